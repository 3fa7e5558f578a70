"""Since last run: what changed between a previous dr-results.json and this run's results.

Result ids are deterministic (``<requirement>:<resource>``), so two runs compare by id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError

FAILING = {"FAIL", "ERROR"}


MAX_BASELINE_BYTES = 256 * 2**20


def load_baseline(path: str | Path) -> dict[str, Any]:
    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_BASELINE_BYTES + 1)
        if len(raw) > MAX_BASELINE_BYTES:
            raise ConfigError(source, "(file)", f"a dr-results.json of at most {MAX_BASELINE_BYTES // 2**20} MB",
                              "a larger file")
        document = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise ConfigError(source, "(file)", "a readable dr-results.json of an earlier run", reason) from None
    except json.JSONDecodeError as error:
        raise ConfigError(source, f"line {error.lineno}", "valid JSON (a dr-results.json)", error.msg) from None
    except (RecursionError, ValueError) as error:  # nesting too deep, numbers past Python's digit limit
        raise ConfigError(source, "(file)", "a dr-results.json (shallow JSON)", type(error).__name__) from None
    if not isinstance(document, dict):
        raise ConfigError(source, "(top level)", "a JSON object (a dr-results.json)")
    results = document.get("results")
    if not isinstance(results, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("status"), str)
            for r in results):
        raise ConfigError(source, "results", "a list of results each with 'id' and 'status' (a dr-results.json)")
    # Only what since_last_run reads is kept, each checked: a file of another schema stops the run here,
    # not at its end (where it would lose the reports).
    installation = document.get("installation")
    if installation is not None and not (isinstance(installation, dict)
                                         and isinstance(installation.get("name", ""), str | None)):
        raise ConfigError(source, "installation", "an object with the installation's name (a dr-results.json)")
    started = document.get("started_at")
    if started is not None and not isinstance(started, str):
        raise ConfigError(source, "started_at", "a timestamp string (a dr-results.json)")
    # The recovery points it measured (DR-DB-09, DR-OBJ-07) are the report's "previous" figures: only numbers kept.
    return {"results": [{"id": r["id"], "status": r["status"], **_recovery_point_of(r)} for r in results],
            "recovery_points": [{k: row.get(k) for k in ("component", "requirement", "resource")}
                                | {"measured_seconds": float(row["measured_seconds"])}
                                for row in document.get("recovery_points") or [] if isinstance(row, dict)
                                and isinstance(row.get("measured_seconds"), int | float)
                                and not isinstance(row.get("measured_seconds"), bool)]
            if isinstance(document.get("recovery_points"), list) else [],
            "started_at": started, "installation": {key: (installation or {}).get(key) for key in ("name", "account")
                             if isinstance((installation or {}).get(key), str)}}


def _recovery_point_of(result: dict[str, Any]) -> dict[str, Any]:
    evidence = result.get("evidence")
    point = evidence.get("recovery_point") if isinstance(evidence, dict) else None
    measured = point.get("measured_seconds") if isinstance(point, dict) else None
    if isinstance(measured, int | float) and not isinstance(measured, bool):
        return {"evidence": {"recovery_point": {"measured_seconds": float(measured)}}}
    return {}


def foreign_baseline(baseline: dict[str, Any], source: str, name: str, account: str | None) -> ConfigError | None:
    """A baseline written for another installation or account compares nothing with this run."""
    installation = baseline.get("installation")
    if not isinstance(installation, dict):
        installation = {}
    theirs = installation.get("name")
    if isinstance(theirs, str) and theirs != name:
        return ConfigError(source, "installation.name", f"a dr-results.json of installation {name!r} (it is of "
                           f"another installation; comparing them would call every difference a change)",
                           repr(theirs))
    their_account = installation.get("account")
    if account and isinstance(their_account, str) and their_account.isdigit() and their_account != account:
        return ConfigError(source, "installation.account", f"a dr-results.json of AWS account {account} (it is "
                           f"of another account)", repr(their_account))
    return None


def since_last_run(baseline: dict[str, Any], current: list[dict[str, Any]], source: str) -> dict[str, Any]:
    before = {r["id"]: r["status"] for r in baseline["results"]}
    now = {r["id"]: r["status"] for r in current}
    return {
        "baseline": {"file": source, "started_at": baseline.get("started_at"),
                     "installation": (baseline.get("installation") or {}).get("name")},
        "new_failures": sorted(i for i, s in now.items() if s in FAILING and before.get(i) not in FAILING),
        "resolved": sorted(i for i, s in now.items() if s not in FAILING | {"N/A"} and before.get(i) in FAILING),
        # Failing before, N/A now: the requirement stopped applying (a setting changed), nothing was fixed.
        "no_longer_applicable": sorted(i for i, s in now.items() if s == "N/A" and before.get(i) in FAILING),
        "still_failing": sorted(i for i, s in now.items() if s in FAILING and before.get(i) in FAILING),
        "new_resources": sorted(set(now) - set(before)),
        "no_longer_evaluated": sorted(set(before) - set(now)),
    }


def previous_recovery_seconds(baseline: dict[str, Any] | None) -> dict[str, float | None]:
    """Per result id, the recovery point an earlier run measured (DR-DB-09, DR-OBJ-07 evidence)."""
    found: dict[str, float | None] = {}
    for result in (baseline or {}).get("results") or []:
        evidence = result.get("evidence") if isinstance(result, dict) else None
        point = evidence.get("recovery_point") if isinstance(evidence, dict) else None
        if isinstance(point, dict):
            measured = point.get("measured_seconds")
            found[str(result.get("id"))] = float(measured) if isinstance(measured, int | float) else None
    return found
