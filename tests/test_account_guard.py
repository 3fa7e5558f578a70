"""The account guard never fails open: with ``installation.account_id`` set, credentials whose account cannot
be verified stop the run (exit 4, one message, no report); without it, the report says the account is
unverified instead of showing a configured or guessed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.faults import Fault
from tests.scenario import Hook, denied, run_checks

# Every way a read can fail: denied, expired, throttled past retries, a service down, an incomplete answer.
FAILURES: dict[str, list[Hook]] = {
    "denied": denied("GetCallerIdentity", "sts"),
    "expired": denied("GetCallerIdentity", "sts", code="ExpiredToken"),
    "throttled": [Fault("sts", "GetCallerIdentity", status=400, code="Throttling", times=None).hook],
    "down": [Fault("sts", "GetCallerIdentity", status=503, code="ServiceUnavailable", times=None).hook],
}


@pytest.fixture(autouse=True)
def few_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_an_unverifiable_identity_stops_a_run_that_names_its_account(failure: str, moto: DemoServer,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateless", hooks=FAILURES[failure], capsys=capsys)
    assert outcome.exit_code == 4
    assert outcome.results == []
    assert not (outcome.reports / "dr-report.html").exists()
    assert "could not be verified" in outcome.output
    assert "sts:GetCallerIdentity" in outcome.output
    assert "Traceback" not in outcome.output


def test_without_account_id_the_report_says_the_account_is_unverified(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateless", hooks=FAILURES["denied"],
                         overrides={"installation": {"account_id": None}})
    assert outcome.results
    account = outcome.document["installation"]["account"]
    assert account.startswith("unverified")
    assert "sts:GetCallerIdentity" in account
    assert "123456789012" not in account
