"""Object storage (DR-OBJ-01 … 07) against a seeded moto server: PASS when DR-ready, FAIL for exactly
what a mutation breaks, ERROR when a read is denied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.scenario import Outcome, changed_verdicts, denied, run_checks

STATES = "spacelift-states-ab12c"


def test_dr_ready_installation_passes_every_object_storage_requirement(dr_ready: Outcome) -> None:
    obj = {k: v for k, v in dr_ready.verdicts.items() if k.startswith(("DR-OBJ", "DR-SVC-01"))}
    assert len(obj) == 4 * 6 + 11 + 3  # OBJ-02..07 × 4 critical buckets, OBJ-01 × 11 settings, SVC-01 × 3
    not_passing = {k: v for k, v in obj.items() if v != "PASS"}
    # OBJECT_STORAGE_BUCKET_USAGE_ANALYTICS is empty in the official module: no bucket to check.
    assert not_passing == {"DR-OBJ-01:OBJECT_STORAGE_BUCKET_USAGE_ANALYTICS": "N/A"}


NO_COPY = ("DR-OBJ-03", "DR-OBJ-04", "DR-OBJ-05", "DR-OBJ-06", "DR-OBJ-07")
NOT_ACCEPTED = ("DR-OBJ-03", "DR-OBJ-05", "DR-OBJ-07")

# mutation → the (requirement, resource) verdicts it must turn to FAIL; every other verdict unchanged.
BREAKS = {
    "missing-bucket:deliveries": {("DR-OBJ-01", "spacelift-deliveries-ab12c")},
    "unversioned:states": {(r, STATES) for r in ("DR-OBJ-02", *NO_COPY)},
    "no-replication:states": {(r, STATES) for r in NO_COPY},
    "replication-prefix-only:states": {(r, STATES) for r in NO_COPY},
    "replication-same-region:states": {(r, STATES) for r in NO_COPY},
    "replica-missing:states": {(r, STATES) for r in NO_COPY},
    "replica-unversioned:modules": {("DR-OBJ-04", "spacelift-modules-ab12c"),
                                    ("DR-OBJ-06", "spacelift-modules-ab12c")},
    "no-delete-markers:run_logs": {("DR-OBJ-05", "spacelift-run-logs-ab12c")},
    "no-sse-kms-selection:policy_inputs": {("DR-OBJ-05", "spacelift-policy-inputs-ab12c")},
    "no-failback:states": {("DR-OBJ-06", STATES)},
    "no-scheduler-service": {("DR-SVC-01", "spacelift-ab12c/scheduler")},
    # Revision 2: configured but not recoverable.
    "replication-role-missing:states": {(r, STATES) for r in NOT_ACCEPTED},
    "replication-role-untrusted:states": {(r, STATES) for r in NOT_ACCEPTED},
    "replication-to-glacier:states": {(r, STATES) for r in NOT_ACCEPTED},
    "replica-lifecycle-shorter:states": {("DR-OBJ-04", STATES)},
    "two-half-rules:states": {("DR-OBJ-05", STATES)},
    "failback-prefix-only:states": {("DR-OBJ-06", STATES)},
    "replication-metrics-off:states": {("DR-OBJ-07", STATES)},
    "replication-lagging:states": {("DR-OBJ-07", STATES)},
    "replication-failing:states": {("DR-OBJ-07", STATES)},
    # A V1 rule (rule-level Prefix "") covers every object and carries delete markers: OBJ-03 … 06 hold.
    # The V1 schema has no replication metrics, so OBJ-07 cannot observe its health.
    "replication-v1-rule:states": {("DR-OBJ-07", STATES)},
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    changed = changed_verdicts(dr_ready, broken)
    expected = {f"{req}:{resource}": "FAIL" for req, resource in BREAKS[mutation]}
    # Without the scheduler service there are no scheduler roles to compare: DR-SVC-05 says so (N/A).
    also = {"DR-SVC-05:spacelift-ab12c/scheduler": "N/A"} if mutation == "no-scheduler-service" else {}
    # Without a copy in the backup region there is no copy whose key DR-KMS-06 follows: N/A, naming DR-OBJ-03
    # (which FAILs), as the database's copies without a key are (REQUIREMENTS: N/A when no KMS keys on the copies).
    if {(r, STATES) for r in NO_COPY} <= BREAKS[mutation]:
        also[f"DR-KMS-06:{STATES}"] = "N/A"
    assert changed == {**expected, **also}
    if f"DR-KMS-06:{STATES}" in also:
        assert "see DR-OBJ-03" in broken.result("DR-KMS-06", STATES)["message"]
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


@pytest.mark.parametrize(("service", "operation", "requirement"), [
    ("s3", "HeadBucket", "DR-OBJ-01"), ("s3", "GetBucketVersioning", "DR-OBJ-02"),
    ("s3", "GetBucketLocation", "DR-OBJ-04"), ("s3", "GetBucketEncryption", "DR-OBJ-05"),
    ("iam", "GetRole", "DR-OBJ-03"), ("s3", "GetBucketLifecycleConfiguration", "DR-OBJ-04"),
    ("cloudwatch", "GetMetricData", "DR-OBJ-07"),
])
def test_each_denied_read_turns_its_check_into_error(service: str, operation: str, requirement: str,
                                                     moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", requirement,
                         hooks=denied(operation, service))
    statuses = {r["status"] for r in outcome.results}
    assert statuses <= {"ERROR", "N/A"}
    assert "ERROR" in statuses
    action = {"HeadBucket": "s3:ListBucket", "GetBucketEncryption": "s3:GetEncryptionConfiguration",
              "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration"}.get(
        operation, f"{service}:{operation}")
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


def test_replication_measured_in_the_recovery_point(dr_ready: Outcome) -> None:
    point = dr_ready.result("DR-OBJ-07", STATES)["evidence"]["recovery_point"]
    assert point == {"component": f"bucket {STATES}",
                     "mechanism": f"S3 replication rule disaster-recovery → {STATES}-dr",
                     "measured_seconds": 42.0, "measured": "replication latency 42 s, max over the last 24 h",
                     "target_seconds": 900.0}


def test_incomplete_metric_answer_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    def internal_error(parsed: dict[str, Any], **_: Any) -> None:
        for result in parsed.get("MetricDataResults", []):
            result["StatusCode"] = "InternalError"

    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-OBJ-07",
                         hooks=[("after-call.cloudwatch.GetMetricData", internal_error)])
    result = outcome.result("DR-OBJ-07", STATES)
    assert result["status"] == "ERROR"
    assert "cloudwatch:GetMetricData" in result["message"]
    assert "InternalError" in result["message"]
