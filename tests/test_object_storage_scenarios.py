"""Object storage (DR-OBJ-01 … 06) against a seeded moto server: PASS when DR-ready, FAIL for exactly
what a mutation breaks, ERROR when a read is denied."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.scenario import Outcome, changed_verdicts, denied, run_checks

STATES = "spacelift-states-ab12c"


def test_dr_ready_installation_passes_every_object_storage_requirement(dr_ready: Outcome) -> None:
    obj = {k: v for k, v in dr_ready.verdicts.items() if k.startswith(("DR-OBJ", "DR-SVC-01"))}
    assert len(obj) == 4 * 5 + 11 + 3  # OBJ-02..06 × 4 critical buckets, OBJ-01 × 11 settings, SVC-01 × 3
    not_passing = {k: v for k, v in obj.items() if v != "PASS"}
    # OBJECT_STORAGE_BUCKET_USAGE_ANALYTICS is empty in the official module: no bucket to check.
    assert not_passing == {"DR-OBJ-01:OBJECT_STORAGE_BUCKET_USAGE_ANALYTICS": "N/A"}


# mutation → the (requirement, resource) verdicts it must turn to FAIL; every other verdict unchanged.
BREAKS = {
    "missing-bucket:deliveries": {("DR-OBJ-01", "spacelift-deliveries-ab12c")},
    "unversioned:states": {(r, STATES) for r in ("DR-OBJ-02", "DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06")},
    "no-replication:states": {(r, STATES) for r in ("DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06")},
    "replication-prefix-only:states": {(r, STATES) for r in ("DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06")},
    "replication-same-region:states": {(r, STATES) for r in ("DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06")},
    "replica-missing:states": {(r, STATES) for r in ("DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06")},
    "replica-unversioned:modules": {("DR-OBJ-04", "spacelift-modules-ab12c"),
                                    ("DR-OBJ-06", "spacelift-modules-ab12c")},
    "no-delete-markers:run_logs": {("DR-OBJ-05", "spacelift-run-logs-ab12c")},
    "no-sse-kms-selection:policy_inputs": {("DR-OBJ-05", "spacelift-policy-inputs-ab12c")},
    "no-failback:states": {("DR-OBJ-06", STATES)},
    "no-scheduler-service": {("DR-SVC-01", "spacelift-ab12c/scheduler")},
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    changed = changed_verdicts(dr_ready, broken)
    expected = {f"{req}:{resource}": "FAIL" for req, resource in BREAKS[mutation]}
    assert changed == expected
    assert broken.exit_code == 1
    for key in expected:
        result = next(r for r in broken.results if r["id"] == key)
        assert result["message"], "a FAIL states what was observed"
        assert result["evidence"], "a FAIL carries its evidence"


def test_denied_replication_read_is_an_error_never_a_verdict(moto: DemoServer, tmp_path: Path) -> None:
    hooks = denied("GetBucketReplication", "s3", only=lambda p: p.get("Bucket") == STATES)
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateful", hooks=hooks)
    for requirement in ("DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06"):
        result = outcome.result(requirement, STATES)
        assert result["status"] == "ERROR"
        assert result["message"].startswith(f"s3:GetReplicationConfiguration denied on {STATES}")
    assert outcome.status("DR-OBJ-02", STATES) == "PASS"
    assert outcome.status("DR-OBJ-03", "spacelift-modules-ab12c") == "PASS"
    assert outcome.exit_code == 6  # ERRORs and no FAIL


@pytest.mark.parametrize(("operation", "requirement"), [
    ("HeadBucket", "DR-OBJ-01"), ("GetBucketVersioning", "DR-OBJ-02"), ("GetBucketLocation", "DR-OBJ-04"),
    ("GetBucketEncryption", "DR-OBJ-05"),
])
def test_each_denied_read_turns_its_check_into_error(operation: str, requirement: str, moto: DemoServer,
                                                     tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", requirement,
                         hooks=denied(operation, "s3"))
    statuses = {r["status"] for r in outcome.results}
    assert statuses <= {"ERROR", "N/A"}
    assert "ERROR" in statuses
    action = {"HeadBucket": "s3:ListBucket", "GetBucketEncryption": "s3:GetEncryptionConfiguration"}.get(
        operation, f"s3:{operation}")
    for result in outcome.results:
        if result["status"] == "ERROR":
            assert result["message"].startswith(f"{action} denied on "), result["message"]


def test_discovery_denied_makes_every_check_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateful or stateless",
                         hooks=denied("DescribeServices", "ecs"))
    # The live database checks need no discovered setting: without a DSN they do not apply, discovery or not.
    rest = [r for r in outcome.results if not r["message"].startswith(("no DSN configured", "no replica DSN"))]
    assert {r["status"] for r in rest} == {"ERROR"}
    assert all("ecs:DescribeServices denied" in r["message"] for r in rest)
