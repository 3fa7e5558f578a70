"""Faults: throttling and 5xx answers are retried and change no verdict; a service that stays down turns
exactly the checks that need it into ERROR; an interrupted run still writes a partial report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.faults import Fault
from tests.scenario import Outcome, run_checks


@pytest.fixture
def few_attempts() -> Iterator[None]:
    """Bound the retries so that a service that stays down costs seconds, not minutes."""
    saved = os.environ.get("AWS_MAX_ATTEMPTS")
    os.environ["AWS_MAX_ATTEMPTS"] = "3"
    yield
    if saved is None:
        os.environ.pop("AWS_MAX_ATTEMPTS", None)
    else:
        os.environ["AWS_MAX_ATTEMPTS"] = saved


@pytest.mark.parametrize(("service", "operation", "status", "code"), [
    ("s3", "GetBucketReplication", 503, "SlowDown"),
    ("s3", "GetBucketVersioning", 500, "InternalError"),
    ("ecs", "DescribeTaskDefinition", 400, "ThrottlingException"),
])
def test_transient_faults_are_retried_and_change_no_verdict(service: str, operation: str, status: int, code: str,
                                                             dr_ready: Outcome, moto: DemoServer,
                                                             tmp_path: Path) -> None:
    fault = Fault(service, operation, status=status, code=code, times=2)
    outcome = run_checks(seed(moto.url), tmp_path, hooks=[fault.hook])
    assert fault.injected == 2
    assert fault.passed >= 1, "the retried request reached the server"
    assert outcome.verdicts == dr_ready.verdicts
    assert outcome.document["api_calls"]["retries"] >= 2


def test_a_service_that_stays_down_errors_only_the_checks_that_need_it(few_attempts: None, dr_ready: Outcome,
                                                                       moto: DemoServer, tmp_path: Path) -> None:
    fault = Fault("s3", "GetBucketReplication", status=503, code="ServiceUnavailable", times=None)
    outcome = run_checks(seed(moto.url), tmp_path, hooks=[fault.hook])
    changed = {k: v for k, v in outcome.verdicts.items() if dr_ready.verdicts[k] != v}
    # The checks that need the read are those whose evidence lists it in the clean run.
    needs_replication = {r["id"] for r in dr_ready.results
                         if any(a["action"] == "s3:GetReplicationConfiguration" for a in r["actions"])}
    assert len(needs_replication) >= 16
    assert changed.keys() == needs_replication
    assert set(changed.values()) == {"ERROR"}
    for result in outcome.results:
        if result["id"] in changed:
            assert "s3:GetReplicationConfiguration" in result["message"]
            assert "ServiceUnavailable" in result["message"]


def test_an_interrupted_run_writes_a_partial_report_marked_incomplete(moto: DemoServer, tmp_path: Path,
                                                                    dr_ready: Outcome) -> None:
    calls = {"n": 0}

    def interrupt(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # a few checks in: as if the operator pressed Ctrl-C
            raise KeyboardInterrupt

    # --dr-serial: the reads happen inside the checks (not in the prefetch), so the interrupt lands
    # between checks, as an operator's Ctrl-C usually does.
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-serial",
                         hooks=[("before-call.s3.GetBucketVersioning", interrupt)])
    assert outcome.exit_code == 2  # pytest's "interrupted"
    assert outcome.document["complete"] is False
    assert 0 < len(outcome.results) < len(dr_ready.results)
    html = (outcome.reports / "dr-report.html").read_text(encoding="utf-8")
    assert "INCOMPLETE RUN" in html
