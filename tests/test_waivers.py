"""Waivers: validated, an unexpired one turns FAIL into WAIVED, an expired one stays FAIL and is named,
one that matched nothing is listed as stale."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from spacelift_dr.errors import ConfigError
from spacelift_dr.waivers import Waiver, WaiverBook, load_waivers
from tests.scenario import run_checks

GOOD = {"requirement": "DR-OBJ-03", "resource": "spacelift-run-logs-*", "reason": "reproducible logs",
        "owner": "sre@example.com", "expires": "2099-12-31"}


def write(tmp_path: Path, entries: Any) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(entries if isinstance(entries, str) else yaml.safe_dump(entries), encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path: Path) -> None:
    [waiver] = load_waivers(write(tmp_path, [GOOD]))
    assert waiver.expires == dt.date(2099, 12, 31)
    assert waiver.covers("DR-OBJ-03", "spacelift-run-logs-ab12c", "demo")
    assert not waiver.covers("DR-OBJ-04", "spacelift-run-logs-ab12c", "demo")


BAD = [
    ("missing owner", [{k: v for k, v in GOOD.items() if k != "owner"}], "[0].owner", "required key is missing"),
    ("unknown key", [{**GOOD, "ticket": "X-1"}], "[0].ticket", "no such key"),
    ("date not ISO", [{**GOOD, "expires": "31/12/2026"}], "[0].expires", "ISO date"),
    ("unknown requirement", [{**GOOD, "requirement": "DR-FOO-01"}], "[0].requirement", "requirement ID"),
    ("empty reason", [{**GOOD, "reason": ""}], "[0].reason", "at least 1 character"),
    ("a mapping, not a list", GOOD, "(top level)", "a list of waivers"),
]


@pytest.mark.parametrize(("what", "entries", "key", "expectation"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_clear_message(tmp_path: Path, what: str, entries: Any, key: str, expectation: str) -> None:
    path = write(tmp_path, entries)
    with pytest.raises(ConfigError) as raised:
        load_waivers(path)
    assert str(path) in str(raised.value)
    assert key in str(raised.value)
    assert expectation in str(raised.value)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
       st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_a_waiver_holds_through_its_expiry_date(expires: dt.date, today: dt.date) -> None:
    waiver = Waiver.model_validate({**GOOD, "expires": expires.isoformat()})
    assert waiver.expired(today) == (today > expires)


def test_an_unexpired_match_wins_over_an_expired_one() -> None:
    old = Waiver.model_validate({**GOOD, "expires": "2001-01-01", "owner": "old"})
    new = Waiver.model_validate({**GOOD, "owner": "new"})
    book = WaiverBook([old, new], today=dt.date(2026, 1, 1))
    found = book.find("DR-OBJ-03", "spacelift-run-logs-ab12c", "demo")
    assert found is not None
    assert found.owner == "new"
    assert book.stale() == []


def test_waivers_in_a_run(moto: DemoServer, tmp_path: Path) -> None:
    entries = [
        GOOD,  # covers run_logs' OBJ-03: WAIVED
        {**GOOD, "requirement": "DR-OBJ-06", "resource": "spacelift-policy-inputs-ab12c", "expires": "2020-01-01",
         "owner": "alice"},  # expired: stays FAIL, names the waiver
        {**GOOD, "requirement": "DR-OBJ-02", "resource": "*", "owner": "bob"},  # nothing fails: stale
    ]
    outcome = run_checks(seed(moto.url, DEMO_GAPS), tmp_path, "-m", "stateful",
                         "--dr-waivers", str(write(tmp_path, entries)))
    waived = outcome.result("DR-OBJ-03", "spacelift-run-logs-ab12c")
    assert waived["status"] == "WAIVED"
    assert waived["waiver"]["owner"] == "sre@example.com"
    assert "waived by sre@example.com until 2099-12-31: reproducible logs" in waived["message"]
    expired = outcome.result("DR-OBJ-06", "spacelift-policy-inputs-ab12c")
    assert expired["status"] == "FAIL"
    assert "waiver expired: alice until 2020-01-01" in expired["message"]
    assert [w["owner"] for w in outcome.document["waivers"]["stale"]] == ["bob"]
    assert outcome.document["summary"]["WAIVED"] == 1


def test_all_failures_waived_means_a_green_run(moto: DemoServer, tmp_path: Path) -> None:
    entries = [{**GOOD, "requirement": "DR-OBJ-04", "resource": "spacelift-states-ab12c"}]
    outcome = run_checks(seed(moto.url, ["replica-unversioned:states"]), tmp_path, "--dr-requirement", "DR-OBJ-04",
                         "--dr-waivers", str(write(tmp_path, entries)))
    assert outcome.status("DR-OBJ-04", "spacelift-states-ab12c") == "WAIVED"
    assert outcome.exit_code == 0


def test_a_bad_waivers_file_stops_the_run_before_any_check(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-waivers", str(write(tmp_path, [{"requirement": 1}])))
    assert outcome.exit_code == 4
    assert outcome.results == []
