"""The database's API side (DR-DB-01 … 05) against a seeded moto server: PASS when DR-ready, FAIL for
exactly what a mutation breaks, ERROR when a read is denied or the database cannot be found, N/A for a
self-managed database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.demo.services import DEMO_DB_PASSWORD
from tests.scenario import Hook, Outcome, changed_verdicts, denied, run_checks

CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:spacelift-ab12c"
API_SIDE = ("DR-DB-01", "DR-DB-02", "DR-DB-03", "DR-DB-04", "DR-DB-05", "DR-DB-09")
ONLY_API_SIDE = ("--dr-requirement", ",".join(API_SIDE))


def test_dr_ready_installation_passes_the_database_requirements(dr_ready: Outcome) -> None:
    for requirement in API_SIDE:
        assert dr_ready.status(requirement, CLUSTER) == "PASS", requirement
    copy = dr_ready.result("DR-DB-04", CLUSTER)
    assert copy["evidence"]["mechanisms"]["aurora-global-cluster"]["verdict"] == "holds"
    assert "spacelift-ab12c-dr" in copy["message"]
    assert copy["evidence"]["found_by"] == "database.cluster_identifier is spacelift-ab12c"
    point = dr_ready.result("DR-DB-09", CLUSTER)["evidence"]["recovery_point"]
    assert point == {"component": "database", "mechanism": "Aurora global secondary cluster spacelift-ab12c-dr",
                     "measured_seconds": 1.2, "measured": "AuroraGlobalDBRPOLag 1.2 s, max over the last hour",
                     "target_seconds": 3600.0}
    # No DSN in the demo: the live checks say which environment variable to set.
    assert dr_ready.status("DR-DB-06") == "N/A"
    assert "SPACELIFT_DR_DATABASE_URL" in dr_ready.result("DR-DB-06")["message"]
    assert "SPACELIFT_DR_REPLICA_DATABASE_URL" in dr_ready.result("DR-DB-07")["message"]
    assert "Aurora cluster spacelift-ab12c" in dr_ready.result("DR-DB-08")["message"]
    assert dr_ready.status("DR-QUE-01") == "PASS"


BREAKS = {
    "db-short-retention": {"DR-DB-01"},
    "db-no-deletion-protection": {"DR-DB-03"},
    "db-unencrypted": {"DR-DB-05"},
    # No copy: no recovery point in the backup region either (FAIL, not N/A).
    "db-no-copy-in-backup-region": {"DR-DB-04", "DR-DB-09"},
    "db-rpo-lagging": {"DR-DB-09"},
}
# Verdicts of other areas that a mutation changes by consequence, each with the reason.
ALSO_CHANGES = {
    # No storage key at all: DR-KMS-06 has no key on the database's copy to follow (DB-05 is the finding).
    "db-unencrypted": {"DR-KMS-06:spacelift-ab12c": "N/A"},
    # No copy in the backup region: no copy whose key to follow (DB-04 is the finding).
    "db-no-copy-in-backup-region": {"DR-KMS-06:spacelift-ab12c": "N/A"},
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    changed = changed_verdicts(dr_ready, broken)
    expected = {f"{requirement}:{CLUSTER}": "FAIL" for requirement in BREAKS[mutation]}
    assert changed == {**expected, **ALSO_CHANGES.get(mutation, {})}
    for requirement in BREAKS[mutation]:
        result = broken.result(requirement, CLUSTER)
        assert "expected" in result["message"]
        assert result["evidence"]["database"]["DBIdentifier"] == "spacelift-ab12c"


def test_short_retention_names_observed_and_expected_days(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["db-short-retention"])
    outcome = run_checks(demo, tmp_path, *ONLY_API_SIDE)
    result = outcome.result("DR-DB-01", CLUSTER)
    assert result["message"] == "Aurora cluster spacelift-ab12c keeps automated backups 5 days, expected at least 7"
    assert result["evidence"]["BackupRetentionPeriod"] == 5
    # The policy decides: a 5-day minimum makes the module's default compliant.
    relaxed = run_checks(demo, tmp_path / "relaxed", *ONLY_API_SIDE,
                         overrides={"policy": {"backup_retention_days_min": 5}})
    assert relaxed.status("DR-DB-01", CLUSTER) == "PASS"


def _restorable_only_until(moment: datetime) -> list[Hook]:
    """moto always reports 'now': answer DescribeDBClusters as a stalled continuous backup would."""
    def stall(parsed: dict[str, Any], **_: Any) -> None:
        for cluster in parsed.get("DBClusters", []):
            cluster["LatestRestorableTime"] = moment

    return [("after-call.rds.DescribeDBClusters", stall)]


def test_stalled_point_in_time_recovery_fails(moto: DemoServer, tmp_path: Path) -> None:
    stalled = datetime.now(UTC) - timedelta(hours=2)
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, hooks=_restorable_only_until(stalled))
    result = outcome.result("DR-DB-02", CLUSTER)
    assert result["status"] == "FAIL"
    assert "restored only up to 120 min ago, expected at most 15 min" in result["message"]
    assert {outcome.status(r, CLUSTER) for r in API_SIDE if r != "DR-DB-02"} == {"PASS"}


def test_lag_metric_without_datapoints_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    def no_datapoints(parsed: dict[str, Any], **_: Any) -> None:
        for result in parsed.get("MetricDataResults", []):
            result["Values"], result["Timestamps"] = [], []

    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-DB-09",
                         hooks=[("after-call.cloudwatch.GetMetricData", no_datapoints)])
    result = outcome.result("DR-DB-09", CLUSTER)
    assert result["status"] == "ERROR"
    assert "no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag datapoint for spacelift-ab12c-dr" in (
        result["message"])


def test_lagging_global_secondary_fails_the_recovery_point(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["db-rpo-lagging"]), tmp_path, *ONLY_API_SIDE)
    result = outcome.result("DR-DB-09", CLUSTER)
    assert result["message"] == ("the recovery point of Aurora cluster spacelift-ab12c in eu-central-1 is "
                                 "AuroraGlobalDBRPOLag 90 min, max over the last hour (Aurora global secondary "
                                 "cluster spacelift-ab12c-dr), expected at most 60 min")
    assert result["evidence"]["recovery_point"]["measured_seconds"] == 5400.0


def test_denied_cluster_read_is_an_error_for_every_api_check(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, hooks=denied("DescribeDBClusters", "rds"))
    for requirement in API_SIDE:
        result = outcome.result(requirement)
        assert result["status"] == "ERROR"
        assert result["message"].startswith("rds:DescribeDBClusters denied on DB clusters in eu-west-1")
    assert outcome.exit_code == 6  # only ERRORs


def test_denied_global_cluster_read_makes_the_copy_check_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, hooks=denied("DescribeGlobalClusters", "rds"))
    for requirement in ("DR-DB-04", "DR-DB-09"):
        result = outcome.result(requirement, CLUSTER)
        assert result["status"] == "ERROR"
        assert result["message"].startswith("rds:DescribeGlobalClusters denied")
        assert result["evidence"]["mechanisms"]["aurora-global-cluster"]["verdict"] == "unobservable"
    assert {outcome.status(r, CLUSTER) for r in API_SIDE if r not in ("DR-DB-04", "DR-DB-09")} == {"PASS"}


def test_recent_snapshot_in_backup_region_is_a_copy(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["db-no-copy-in-backup-region"])
    ctx = demo.context
    snapshot = ctx.client("rds").create_db_cluster_snapshot(
        DBClusterIdentifier="spacelift-ab12c", DBClusterSnapshotIdentifier="nightly")["DBClusterSnapshot"]
    ctx.client("rds", ctx.backup).copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="nightly-dr", KmsKeyId=ctx.facts["kms"]["master"]["replica_arn"])
    # A snapshot left only in the primary region is no copy: it is the copy in the backup region that counts.
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-DB-04",
                         hooks=denied("DescribeGlobalClusters", "rds"))
    result = outcome.result("DR-DB-04", CLUSTER)
    assert result["status"] == "PASS", result["message"]
    assert result["message"].startswith("snapshot-in-backup-region: snapshot nightly-dr of spacelift-ab12c in "
                                        "eu-central-1 is 0.0 h old")
    # The unreadable global-cluster mechanism is shown, and does not hide the one that holds.
    assert result["evidence"]["mechanisms"]["aurora-global-cluster"]["verdict"] == "unobservable"
    # The snapshot is the recovery point DR-DB-09 measures.
    measured = run_checks(demo, tmp_path / "measured", "--dr-requirement", "DR-DB-09",
                          hooks=denied("DescribeGlobalClusters", "rds"))
    point = measured.result("DR-DB-09", CLUSTER)["evidence"]["recovery_point"]
    assert measured.status("DR-DB-09", CLUSTER) == "PASS"
    assert point["mechanism"] == "snapshot nightly-dr"
    assert point["measured"].startswith("newest copy ")

    stale = run_checks(demo, tmp_path / "stale", "--dr-requirement", "DR-DB-04",
                       overrides={"policy": {"snapshot_copy_max_age_hours": 0}})
    assert stale.status("DR-DB-04", CLUSTER) == "FAIL"
    assert "newest snapshot of spacelift-ab12c in eu-central-1 is nightly-dr" in stale.result("DR-DB-04")["message"]


def _explicit_database_url(url: str) -> dict[str, Any]:
    return {"installation": {"settings": {"DATABASE_URL": url}}, "database": {"cluster_identifier": None}}


def test_database_found_from_the_host_of_database_url(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    host = demo.context.facts["database"]["writer_endpoint"]
    url = f"postgres://spacelift:{DEMO_DB_PASSWORD}@{host}:5432/spacelift?statement_cache_capacity=0"
    outcome = run_checks(demo, tmp_path, *ONLY_API_SIDE, overrides=_explicit_database_url(url))
    assert {outcome.status(r, CLUSTER) for r in API_SIDE} == {"PASS"}
    assert outcome.result("DR-DB-01")["evidence"]["found_by"] == (
        f"DATABASE_URL's host {host} is an endpoint of Aurora cluster spacelift-ab12c")
    for path in outcome.reports.iterdir():
        assert DEMO_DB_PASSWORD not in path.read_text(encoding="utf-8"), path.name


def test_self_managed_database_makes_the_api_checks_not_applicable(moto: DemoServer, tmp_path: Path) -> None:
    url = "postgres://spacelift@db.internal.demo-corp.example:5432/spacelift"
    overrides = _explicit_database_url(url)
    overrides["database"]["self_managed"] = True
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, overrides=overrides)
    for requirement in API_SIDE:
        result = outcome.result(requirement)
        assert result["status"] == "N/A"
        assert "database.self_managed is true" in result["message"]


def test_a_host_that_leads_to_no_rds_endpoint_is_an_error_not_a_silent_na(moto: DemoServer, tmp_path: Path) -> None:
    url = "postgres://spacelift@db.internal.demo-corp.example:5432/spacelift"
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, overrides=_explicit_database_url(url))
    for requirement in API_SIDE:
        result = outcome.result(requirement)
        assert result["status"] == "ERROR"
        assert "db.internal.demo-corp.example leads to no RDS or Aurora endpoint" in result["message"]
        assert "database.cluster_identifier" in result["message"]
        assert "database.self_managed" in result["message"]


def test_a_company_name_in_a_private_zone_leads_to_the_cluster(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    ctx = demo.context
    route53 = ctx.client("route53")
    zone = route53.create_hosted_zone(Name="demo-corp.internal", CallerReference="db",
                                      VPC={"VPCRegion": ctx.primary, "VPCId": "vpc-12345678"},
                                      HostedZoneConfig={"PrivateZone": True})["HostedZone"]["Id"]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": "db.demo-corp.internal", "Type": "CNAME", "TTL": 60,
                              "ResourceRecords": [{"Value": ctx.facts["database"]["writer_endpoint"]}]}}]})
    url = "postgres://spacelift@db.demo-corp.internal:5432/spacelift"
    outcome = run_checks(demo, tmp_path, *ONLY_API_SIDE, overrides=_explicit_database_url(url))
    assert {outcome.status(r, CLUSTER) for r in API_SIDE} == {"PASS"}
    assert "leads through the account's Route 53 records (db.demo-corp.internal →" in outcome.result(
        "DR-DB-01")["evidence"]["found_by"]


def test_unmeasurable_recovery_point_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, hooks=denied("GetMetricData", "cloudwatch"))
    result = outcome.result("DR-DB-09", CLUSTER)
    assert result["status"] == "ERROR"
    assert result["message"].startswith("cloudwatch:GetMetricData denied on AuroraGlobalDBRPOLag of "
                                        "spacelift-ab12c-dr")
    assert {outcome.status(r, CLUSTER) for r in API_SIDE if r != "DR-DB-09"} == {"PASS"}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"database": {"cluster_identifier": None}},
     "spacelift:setting failed on DATABASE_URL: DATABASE_URL is a secret reference"),
    ({"database": {"cluster_identifier": "spacelift-gone"}},
     "rds:DescribeDBClusters failed on spacelift-gone: database.cluster_identifier spacelift-gone names no DB"),
    (_explicit_database_url("postgres://x@gone.cluster-abc.eu-west-1.rds.amazonaws.com/spacelift"),
     "rds:DescribeDBClusters failed on gone.cluster-abc.eu-west-1.rds.amazonaws.com: DATABASE_URL's host"),
])
def test_database_that_cannot_be_found_is_an_error(overrides: dict[str, Any], message: str, moto: DemoServer,
                                                   tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, *ONLY_API_SIDE, overrides=overrides)
    assert {r["status"] for r in outcome.results} == {"ERROR"}
    assert all(r["message"].startswith(message) for r in outcome.results), outcome.results[0]["message"]


def test_a_cross_region_read_replica_is_a_copy_measured_by_its_replica_lag(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["db-no-copy-in-backup-region"])
    ctx = demo.context
    kms = ctx.facts["kms"]["master"]
    source = ctx.client("rds").create_db_instance(
        DBInstanceIdentifier="spacelift-pg", Engine="postgres", DBInstanceClass="db.t3.micro", MasterUsername="u",
        MasterUserPassword=DEMO_DB_PASSWORD, AllocatedStorage=20, BackupRetentionPeriod=7, DeletionProtection=True,
        StorageEncrypted=True, KmsKeyId=kms["arn"])["DBInstance"]
    ctx.client("rds", ctx.backup).create_db_instance_read_replica(
        DBInstanceIdentifier="spacelift-pg-dr", SourceDBInstanceIdentifier=source["DBInstanceArn"],
        DBInstanceClass="db.t3.micro", KmsKeyId=kms["replica_arn"])

    def replica_lag(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # moto keeps no RDS metrics: CloudWatch's answer for the replica, as the API shapes it.
        for result in parsed.get("MetricDataResults", []):
            result.update(StatusCode="Complete", Values=[4.0, 2.5], Timestamps=[datetime.now(UTC)] * 2)

    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-DB-04,DR-DB-09,DR-KMS-06",
                         overrides={"database": {"cluster_identifier": "spacelift-pg"}},
                         hooks=[("after-call.cloudwatch.GetMetricData", replica_lag)])
    instance = source["DBInstanceArn"]
    copy = outcome.result("DR-DB-04", instance)
    assert copy["status"] == "PASS", copy["message"]
    assert copy["message"] == ("cross-region-read-replica: DB instance spacelift-pg-dr in eu-central-1 replicates "
                               "from spacelift-pg (available)")
    point = outcome.result("DR-DB-09", instance)
    assert point["status"] == "PASS", point["message"]
    assert point["evidence"]["recovery_point"]["measured"] == "ReplicaLag 4.0 s, max over the last hour"
    assert outcome.status("DR-KMS-06", "spacelift-pg") == "PASS"
