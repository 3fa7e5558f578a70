"""The recovery-point table: one row per measured stateful component, in the JSON and on the report's first
screen, with the previous run's figure when a baseline is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spacelift_dr.catalogue import requirement
from spacelift_dr.compare import previous_recovery_seconds
from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.results import Result, Status, recovery_points_of
from tests.scenario import run_checks

STATES = "spacelift-states-ab12c"


def _result(requirement_id: str, resource: str, status: Status, evidence: dict[str, Any]) -> Result:
    return Result(requirement=requirement(requirement_id), resource=resource, region=None, status=status,
                  message="", evidence=evidence, actions=[], test="t", timestamp="2026-11-30T00:00:00Z")


POINT = {"component": "database", "mechanism": "snapshot x", "measured_seconds": 120.0,
         "measured": "newest copy 2 min old", "target_seconds": 3600.0}


def test_rows_come_from_results_that_measured_a_recovery_point() -> None:
    results = [_result("DR-DB-09", "db", Status.PASS, {"recovery_point": POINT}),
               _result("DR-DB-01", "db", Status.PASS, {"BackupRetentionPeriod": 7}),
               _result("DR-OBJ-07", "b", Status.ERROR, {})]
    baseline = {"results": [{"id": "DR-DB-09:db", "evidence": {"recovery_point": {**POINT, "measured_seconds": 90.0}}},
                            {"id": "DR-OBJ-07:b", "evidence": {}}]}
    assert recovery_points_of(results) == [{
        "component": "database", "requirement": "DR-DB-09", "resource": "db", "mechanism": "snapshot x",
        "measured_seconds": 120.0, "measured": "newest copy 2 min old", "target_seconds": 3600.0, "status": "PASS",
        "previous_seconds": None}]
    # The run fills previous_seconds from the baseline's result of the same id.
    assert previous_recovery_seconds(baseline) == {"DR-DB-09:db": 90.0}
    assert previous_recovery_seconds(None) == {}


def test_the_demo_shows_a_healthy_and_a_lagging_component(moto: DemoServer, tmp_path: Path) -> None:
    first = run_checks(seed(moto.url), tmp_path / "first", "-m", "stateful")
    moto.reset()
    second = run_checks(seed(moto.url, ["replication-lagging:states"]), tmp_path / "second", "-m", "stateful",
                        "--dr-baseline", str(first.reports / "dr-results.json"))
    rows = {row["resource"]: row for row in second.document["recovery_points"]}
    assert rows[STATES]["measured_seconds"] == 1800.0
    assert rows[STATES]["previous_seconds"] == 42.0
    assert rows[STATES]["status"] == "FAIL"
    database = next(row for row in rows.values() if row["component"] == "database")
    assert (database["status"], database["measured_seconds"]) == ("PASS", 1.2)
    html = (second.reports / "dr-report.html").read_text(encoding="utf-8")
    first_screen = html[:html.index("<div class='dr-panels'>")]
    assert "Recovery points in the backup region" in first_screen
    assert "replication latency 1800 s, max over the last 24 h" in first_screen
    assert "AuroraGlobalDBRPOLag 1.2 s, max over the last hour" in first_screen
