"""Run the compliance checks in-process against a seeded moto server, the way a user runs them.

``run_checks`` writes a real config file, points the standard AWS environment (``AWS_ENDPOINT_URL``,
credentials) at the moto server and calls ``pytest --dr-config FILE`` on ``checks/``; it returns the
verdicts from the ``dr-results.json`` that run wrote.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from spacelift_dr.demo import Demo

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "checks"

Hook = tuple[str, Callable[..., Any]]


@dataclass
class Outcome:
    exit_code: int
    document: dict[str, Any]
    reports: Path
    output: str = ""

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.document["results"])

    @property
    def verdicts(self) -> dict[str, str]:
        """``{"DR-OBJ-03:spacelift-states-ab12c": "PASS", …}``"""
        return {r["id"]: r["status"] for r in self.results}

    def status(self, requirement: str, resource_part: str = "") -> str:
        matches = [r["status"] for r in self.results
                   if r["requirement"] == requirement and resource_part in r["resource"]]
        assert len(matches) == 1, f"{requirement} {resource_part!r}: expected one result, found {matches}"
        return matches[0]

    def result(self, requirement: str, resource_part: str = "") -> dict[str, Any]:
        matches = [r for r in self.results if r["requirement"] == requirement and resource_part in r["resource"]]
        assert len(matches) == 1, f"{requirement} {resource_part!r}: expected one result, found {len(matches)}"
        return matches[0]


@dataclass
class HookPlugin:
    """Passed to the in-process pytest run: adds botocore event hooks to the run's AWS access."""

    hooks: list[Hook] = field(default_factory=list)

    def pytest_dr_aws_access(self, access: Any, run: Any) -> None:
        for event, handler in self.hooks:
            access.add_event_hook(event, handler)


@contextmanager
def aws_environment(endpoint_url: str, credentials: tuple[str, str] = ("testing", "testing")) -> Iterator[None]:
    """The standard AWS environment pointed at the moto server, restored afterwards."""
    values = {"AWS_ENDPOINT_URL": endpoint_url, "AWS_ACCESS_KEY_ID": credentials[0],
              "AWS_SECRET_ACCESS_KEY": credentials[1], "AWS_DEFAULT_REGION": "eu-west-1",
              # No profile or shared files of the machine running the tests may take part.
              "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    removed = ("AWS_PROFILE", "AWS_SESSION_TOKEN")
    saved = {name: os.environ.pop(name) for name in removed if name in os.environ}
    try:
        with environment(values):
            yield
    finally:
        os.environ.update(saved)


def changed_verdicts(baseline: Outcome, broken: Outcome) -> dict[str, str]:
    """The verdicts that differ from the baseline's; the two runs must have the same results."""
    assert broken.verdicts.keys() == baseline.verdicts.keys()
    return {k: v for k, v in broken.verdicts.items() if baseline.verdicts[k] != v}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, restored afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_config(demo: Demo, directory: Path, overrides: dict[str, Any] | None = None) -> Path:
    data = demo.config().model_dump(mode="json", exclude_defaults=True)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "dr-config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


_FROZEN: list[bool] = []


def _freeze_once() -> None:
    """After this process's first in-process run, what is loaded by then (pytest, moto, botocore's models, the
    suite) is moved out of the cyclic collector's sight: every later in-process run ends with pytest's full
    collections (its unraisable-exception plugin), which otherwise traversed all of it, some 0.7 s a run."""
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN.append(True)


def run_checks(
    demo: Demo,
    directory: Path,
    *args: str,
    hooks: Iterable[Hook] = (),
    overrides: dict[str, Any] | None = None,
    replay_seeded: bool = True,
    capsys: pytest.CaptureFixture[str] | None = None,
    credentials: tuple[str, str] = ("testing", "testing"),
    extra_environment: dict[str, str] | None = None,
) -> Outcome:
    """Run ``pytest checks/ --dr-config <written config>`` in-process and read its results."""
    config = write_config(demo, directory, overrides)
    reports = directory / "reports"
    plugin = HookPlugin(list(hooks))
    if replay_seeded:
        # moto drops fields of some answers (see DemoInstallation.install_fixups): replay what was seeded.
        demo.install_fixups(lambda event, handler: plugin.hooks.insert(0, (event, handler)))
    with aws_environment(demo.endpoint_url, credentials), environment(extra_environment or {}):
        exit_code = pytest.main(
            [str(CHECKS), "--dr-config", str(config), "--dr-reports", str(reports), "-q",
             "-p", "no:cacheprovider", "-p", "no:randomly", "--rootdir", str(ROOT), "-c", str(ROOT / "pytest.ini"),
             *args],
            plugins=[plugin],
        )
    _freeze_once()
    output = capsys.readouterr().out if capsys is not None else ""
    results = reports / "dr-results.json"
    document = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {"results": []}
    return Outcome(int(exit_code), document, reports, output)


def denied(operation: str, service: str, code: str = "AccessDenied",
           only: Callable[[dict[str, Any]], bool] = lambda params: True) -> list[Hook]:
    """Hooks answering ``operation`` with an AWS error before it is sent (API-shaped data).

    ``only`` sees the call's API parameters (e.g. ``{"Bucket": …}``) and picks which calls fail.
    """

    class _Http:
        status_code = 403 if code in {"AccessDenied", "AccessDeniedException"} else 400
        raw = None  # botocore's GetBucketLocation handler reads it; no raw body means "already parsed"

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["dr_test_params"] = dict(params)

    def answer(context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if not only(context.get("dr_test_params", {})):
            return None
        return _Http(), {"Error": {"Code": code, "Message": "Access Denied"},
                         "ResponseMetadata": {"HTTPStatusCode": _Http.status_code}}

    return [(f"before-parameter-build.{service}.{operation}", remember), (f"before-call.{service}.{operation}", answer)]


@dataclass
class FleetOutcome:
    """A run over several installations: its exit code, index and each installation's own results."""

    exit_code: int
    index: dict[str, Any]
    per_installation: dict[str, Outcome]
    reports: Path


def write_fleet(demos: dict[str, Demo], directory: Path, defaults: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """A config listing ``demos`` by name, each with its own AWS profile, and the credentials file."""
    entries, profiles = [], ["[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"]
    for name, demo in demos.items():
        data = demo.config(name).model_dump(mode="json", exclude_defaults=True)
        data["installation"]["aws_profile"] = name
        entries.append(data)
        profiles.append(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in demo.context.credentials.items()))
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "fleet.yaml"
    config.write_text(yaml.safe_dump({"defaults": defaults or {}, "installations": entries}, sort_keys=False),
                      encoding="utf-8")
    credentials = directory / "credentials"
    credentials.write_text("".join(profiles), encoding="utf-8")
    return config, credentials


def run_fleet(demos: dict[str, Demo], directory: Path, *args: str, defaults: dict[str, Any] | None = None,
              replay_seeded: bool = True) -> FleetOutcome:
    """``pytest checks/ --dr-config fleet.yaml`` over several seeded installations, in-process."""
    config, credentials = write_fleet(demos, directory, defaults)
    reports = directory / "reports"
    plugin = HookPlugin()
    if replay_seeded:
        for demo in demos.values():
            demo.install_fixups(lambda event, handler: plugin.hooks.insert(0, (event, handler)))
    endpoint = next(iter(demos.values())).endpoint_url
    with aws_environment(endpoint), environment({"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}):
        exit_code = pytest.main(
            [str(CHECKS), f"--dr-config={config}", f"--dr-reports={reports}", "-q", "-p", "no:cacheprovider",
             "-p", "no:randomly", "--rootdir", str(ROOT), "-c", str(ROOT / "pytest.ini"), *args],
            plugins=[plugin],
        )
    index_file = reports / "dr-installations.json"
    index = json.loads(index_file.read_text(encoding="utf-8")) if index_file.exists() else {"installations": []}
    outcomes = {}
    for name in demos:
        results = reports / name / "dr-results.json"
        document = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {"results": []}
        outcomes[name] = Outcome(int(exit_code), document, reports / name)
    return FleetOutcome(int(exit_code), index, outcomes, reports)
