"""Synthetic runs for the report's tests: results a real run could produce, without AWS."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fixtures.report import _CSS, _SCRIPT
from spacelift_dr.aws import AwsAccess, aws_session
from spacelift_dr.catalogue import requirement
from spacelift_dr.config import parse_config
from spacelift_dr.report_html import HtmlReport
from spacelift_dr.results import Result, Status
from spacelift_dr.run import Run

# The measured-RPO requirements of revision 2 (the stateful checks bring their catalogue entries).
DB_09 = replace(requirement("DR-DB-04"), id="DR-DB-09",
                title="The database's recovery point in the backup region is recent (measured RPO)")
OBJ_07 = replace(requirement("DR-OBJ-03"), id="DR-OBJ-07", title="Replication is observed healthy (measured RPO)")


def synthetic_run(name: str = "prod-eu") -> Run:
    config = parse_config({"installation": {"name": name, "primary_region": "eu-west-1",
                                            "backup_region": "eu-central-1", "account_id": "123456789012",
                                            "discover": {"ecs_cluster": "spacelift-ab12c"}}},
                          f"/etc/dr/{name}.yaml")
    access = AwsAccess(aws_session(aws_access_key_id="synthetic", aws_secret_access_key="synthetic"))
    run = Run(config=config, aws=access, reports_dir=Path("/nonexistent"))
    run.identity = {"account": "123456789012", "arn": "arn:aws:sts::123456789012:assumed-role/dr-auditor/ci"}
    run.config_digest = "sha256:" + "0" * 64
    run.complete = True
    return run


def result(req: Any, resource: str, status: Status, message: str, evidence: dict[str, Any] | None = None,
           actions: list[dict[str, str]] | None = None, installation: str = "prod-eu") -> Result:
    return Result(requirement=req, resource=resource, region="eu-west-1", status=status, message=message,
                  evidence=evidence or {}, actions=actions or [], test=f"checks/test_x.py::test_x[{resource}]",
                  timestamp="2026-11-30T09:00:00Z", installation=installation)


def recovery_point(component: str, mechanism: str, seconds: float | None, measured: str,
                   target: float) -> dict[str, Any]:
    return {"recovery_point": {"component": component, "mechanism": mechanism, "measured_seconds": seconds,
                               "measured": measured, "target_seconds": target}}


def sample_results(installation: str = "prod-eu") -> list[Result]:
    """A run with a failing measured RPO, a passing one, a FAIL, an ERROR, an N/A and a few PASS."""
    denied = "s3:GetReplicationConfiguration failed on spacelift-states-ab12c: AccessDenied (not authorized)"
    return [
        result(DB_09, "arn:aws:rds:eu-west-1:123456789012:cluster:spacelift", Status.PASS,
               "the newest copy in eu-central-1 is 42 s old (AuroraGlobalDBRPOLag), expected at most 15 min",
               recovery_point("database", "Aurora global database secondary", 42.0, "42 s", 900),
               [{"action": "cloudwatch:GetMetricStatistics", "resource": "AuroraGlobalDBRPOLag",
                 "region": "eu-central-1"}], installation),
        result(OBJ_07, "spacelift-states-ab12c", Status.FAIL,
               "replication latency reached 2 h 5 min in the last 24 h, expected at most 15 min",
               recovery_point("object storage: states", "S3 replication (rule disaster-recovery)", 7500.0,
                              "2 h 5 min", 900), installation=installation),
        result(requirement("DR-OBJ-03"), "spacelift-run-logs-ab12c", Status.FAIL,
               "spacelift-run-logs-ab12c replicates every object to nowhere, expected a bucket in eu-central-1",
               {"setting": "OBJECT_STORAGE_BUCKET_RUN_LOGS", "bucket": "spacelift-run-logs-ab12c", "rules": []},
               [{"action": "s3:GetReplicationConfiguration", "resource": "spacelift-run-logs-ab12c",
                 "region": "eu-west-1"}], installation),
        result(requirement("DR-OBJ-05"), "spacelift-states-ab12c", Status.ERROR, denied,
               actions=[{"action": "s3:GetReplicationConfiguration", "resource": "spacelift-states-ab12c",
                         "region": "eu-west-1"}], installation=installation),
        result(requirement("DR-BRK-04"), "MQTT_BROKER_TYPE", Status.NA, "MQTT_BROKER_TYPE is builtin, not iotcore",
               installation=installation),
        *(result(requirement("DR-OBJ-02"), f"spacelift-{kind}-ab12c", Status.PASS,
                 f"spacelift-{kind}-ab12c versioning is Enabled", {"versioning": {"Status": "Enabled"}},
                 installation=installation) for kind in ("modules", "states", "run-logs", "policy-inputs")),
    ]


def write_sample_report(path: Path, runs: list[Run]) -> Path:
    HtmlReport(runs, css=_CSS.read_text(encoding="utf-8"), script=_SCRIPT.read_text(encoding="utf-8"),
               incomplete=False).write(path)
    return path
