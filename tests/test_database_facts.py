"""Database facts on API-shaped data: parsing, the client-side filtering moto cannot be trusted with, and
DR-DB-04's mechanisms that moto does not serve (automated-backup replication, AWS Backup selections,
opt-in), through botocore's Stubber on the suite's own read-only AWS access."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.aws import AwsAccess
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.database import (
    AWS_BACKUP_COPY,
    BACKUP_REPLICATION,
    GLOBAL_CLUSTER,
    READ_REPLICA,
    SNAPSHOT_COPY,
    BackupPlan,
    BackupSelection,
    Copy,
    Database,
    DatabaseFacts,
    LagMetric,
    Mechanism,
    Snapshot,
    arn_like,
    dsn_host,
    global_clusters_with,
    locate_database,
    measure_copy,
    recent_snapshots,
)

PRIMARY, BACKUP = "eu-west-1", "eu-central-1"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CLUSTER_ARN = f"arn:aws:rds:{PRIMARY}:123456789012:cluster:spacelift-ab12c"
INSTANCE_ARN = f"arn:aws:rds:{PRIMARY}:123456789012:db:spacelift"


def cluster(**fields: Any) -> dict[str, Any]:
    return {"DBClusterIdentifier": "spacelift-ab12c", "DBClusterArn": CLUSTER_ARN, "DbClusterResourceId": "cluster-AAA",
            "Engine": "aurora-postgresql", "EngineVersion": "16.4", "Status": "available",
            "Endpoint": "spacelift-ab12c.cluster-xyz.eu-west-1.rds.amazonaws.com",
            "ReaderEndpoint": "spacelift-ab12c.cluster-ro-xyz.eu-west-1.rds.amazonaws.com",
            "BackupRetentionPeriod": 7, "LatestRestorableTime": NOW - timedelta(minutes=3),
            "DeletionProtection": True, "StorageEncrypted": True,
            "TagList": [{"Key": "backup", "Value": "daily"}], **fields}


def instance(**fields: Any) -> dict[str, Any]:
    return {"DBInstanceIdentifier": "spacelift", "DBInstanceArn": INSTANCE_ARN, "DbiResourceId": "db-BBB",
            "Engine": "postgres", "EngineVersion": "16.4", "DBInstanceStatus": "available",
            "Endpoint": {"Address": "spacelift.abc.eu-west-1.rds.amazonaws.com", "Port": 5432},
            "BackupRetentionPeriod": 7, "LatestRestorableTime": NOW, "DeletionProtection": True,
            "StorageEncrypted": True, **fields}


# -- parsing ---------------------------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
secrets = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20)


@given(host=hosts, user=secrets, password=secrets, port=st.integers(1, 65535))
def test_dsn_host_reads_url_and_keyword_forms(host: str, user: str, password: str, port: int) -> None:
    assert dsn_host(f"postgres://{user}:{password}@{host.upper()}:{port}/spacelift?sslmode=require") == host
    assert dsn_host(f"user={user} password={password} host={host} port={port} dbname=spacelift") == host
    assert dsn_host(f"dbname=spacelift host='{host}'") == host


def test_dsn_without_host_names_none() -> None:
    assert dsn_host("dbname=spacelift") is None
    assert dsn_host("postgres:///spacelift") is None


def test_cluster_and_instance_are_read_alike() -> None:
    aurora = Database.from_cluster(cluster())
    assert aurora.label == "Aurora cluster spacelift-ab12c"
    assert aurora.pitr_lag(NOW) == timedelta(minutes=3)
    assert aurora.tags == {"backup": "daily"}
    multi_az = Database.from_cluster(cluster(Engine="postgres"))
    assert multi_az.label == "Multi-AZ DB cluster spacelift-ab12c"
    assert multi_az.backup_resource_type == "RDS"
    plain = Database.from_instance(instance(DBInstanceAutomatedBackupsReplications=[
        {"DBInstanceAutomatedBackupsArn": f"arn:aws:rds:{BACKUP}:123456789012:auto-backup:ab-1"}]))
    assert plain.label == "DB instance spacelift"
    assert plain.endpoints == ("spacelift.abc.eu-west-1.rds.amazonaws.com",)
    assert plain.automated_backup_replications == (f"arn:aws:rds:{BACKUP}:123456789012:auto-backup:ab-1",)
    assert Database.from_cluster(cluster(LatestRestorableTime=None)).pitr_lag(NOW) is None


@pytest.mark.parametrize("api_field", ["BackupRetentionPeriod", "DeletionProtection", "StorageEncrypted"])
def test_a_missing_field_is_unobservable_not_a_default(api_field: str) -> None:
    complete = cluster()
    assert Database.from_cluster(complete).reported(api_field) == complete[api_field]
    incomplete = Database.from_cluster({k: v for k, v in complete.items() if k != api_field})
    with pytest.raises(Unobservable, match=f"failed on spacelift-ab12c: the response has no {api_field}"):
        incomplete.reported(api_field)


def member(arn: str, writer: bool) -> dict[str, Any]:
    return {"DBClusterArn": arn, "IsWriter": writer, "Readers": []}


arns = st.builds(lambda region, name: f"arn:aws:rds:{region}:123456789012:cluster:{name}",
                 st.sampled_from([PRIMARY, BACKUP, "us-east-1"]), st.from_regex(r"[a-z]{1,8}", fullmatch=True))


@given(others=st.lists(st.lists(arns, max_size=3), max_size=4), with_me=st.booleans(),
       secondary_region=st.sampled_from([BACKUP, "us-east-1"]))
def test_global_cluster_membership_is_decided_client_side(others: list[list[str]], with_me: bool,
                                                          secondary_region: str) -> None:
    # What DescribeGlobalClusters returns whatever the filter (moto ignores filters): every global cluster.
    entries = [{"GlobalClusterIdentifier": f"g{i}", "GlobalClusterMembers": [member(a, False) for a in group
                                                                             if a != CLUSTER_ARN]}
               for i, group in enumerate(others)]
    secondary = f"arn:aws:rds:{secondary_region}:123456789012:cluster:spacelift-dr"
    if with_me:
        entries.append({"GlobalClusterIdentifier": "mine", "GlobalClusterMembers": [
            member(CLUSTER_ARN, True), member(secondary, False)]})
    found = global_clusters_with(CLUSTER_ARN, entries)
    assert [g.identifier for g in found] == (["mine"] if with_me else [])
    if with_me:
        assert bool(found[0].members_in(BACKUP)) == (secondary_region == BACKUP)


snapshot_entries = st.builds(
    lambda ident, resource, status, hours: {
        "DBClusterSnapshotIdentifier": f"snap-{hours}", "DBClusterIdentifier": ident, "DbClusterResourceId": resource,
        "Status": status, "SnapshotType": "manual", "SnapshotCreateTime": NOW - timedelta(hours=hours)},
    st.sampled_from(["spacelift-ab12c", "other"]), st.sampled_from(["cluster-AAA", "cluster-ZZZ", None]),
    st.sampled_from(["available", "creating", "failed"]), st.integers(0, 100))


@given(entries=st.lists(snapshot_entries, max_size=8), max_hours=st.integers(0, 48))
def test_recent_snapshots_are_of_this_database_available_and_fresh(entries: list[dict[str, Any]],
                                                                   max_hours: int) -> None:
    database = Database.from_cluster(cluster())
    snapshots = [Snapshot.from_cluster_snapshot(e) for e in entries]
    fresh = recent_snapshots(database, snapshots, NOW, timedelta(hours=max_hours))
    expected = [s for s in snapshots if s.source_identifier == "spacelift-ab12c"
                and s.source_resource_id in ("cluster-AAA", None) and s.status == "available"
                and NOW - s.created <= timedelta(hours=max_hours)]  # type: ignore[operator]
    assert sorted(s.identifier for s in fresh) == sorted(s.identifier for s in expected)
    assert [s.created for s in fresh] == sorted((s.created for s in fresh), reverse=True)  # type: ignore[type-var]


def test_copied_db_snapshot_is_as_old_as_its_original() -> None:
    copy = Snapshot.from_db_snapshot({"DBSnapshotIdentifier": "copy", "DBInstanceIdentifier": "spacelift",
                                      "Status": "available", "SnapshotCreateTime": NOW,
                                      "OriginalSnapshotCreateTime": NOW - timedelta(days=3)})
    assert copy.age(NOW) == timedelta(days=3)
    assert not recent_snapshots(Database.from_instance(instance()), [copy], NOW, timedelta(hours=24))


# -- AWS Backup selections -------------------------------------------------------------------------------

@given(arn=st.from_regex(r"arn:aws:rds:[a-z0-9-]{1,12}:[0-9]{12}:cluster:[a-z0-9-]{1,20}", fullmatch=True))
def test_arn_patterns_match_as_aws_backup_says(arn: str) -> None:
    assert arn_like(arn, arn)
    assert arn_like("*", arn)
    assert arn_like("arn:aws:rds:*:*:cluster:*", arn)
    assert not arn_like("arn:aws:rds:*:*:db:*", arn)
    assert not arn_like(arn + "x", arn)
    assert not arn_like("arn:aws:rds:*:*:cluster:*", arn + " x")  # '*' does not span whitespace


def selection(**fields: Any) -> BackupSelection:
    return BackupSelection.from_api({"BackupSelection": {"SelectionName": "sel", "IamRoleArn": "r", **fields}})


@pytest.mark.parametrize(("fields", "selects"), [
    ({"Resources": [CLUSTER_ARN]}, True),
    ({"Resources": ["arn:aws:rds:*:*:cluster:*"]}, True),
    ({"Resources": ["arn:aws:rds:*:*:db:*"]}, False),
    ({"Resources": ["*"], "NotResources": ["arn:aws:rds:*:*:cluster:spacelift-*"]}, False),
    ({"Resources": ["*"], "Conditions": {"StringEquals": [
        {"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "daily"}]}}, True),
    ({"Resources": ["*"], "Conditions": {  # AND: both must hold
        "StringEquals": [{"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "daily"}],
        "StringLike": [{"ConditionKey": "aws:ResourceTag/stage", "ConditionValue": "prod*"}]}}, False),
    ({"Conditions": {"StringNotEquals": [{"ConditionKey": "aws:ResourceTag/skip", "ConditionValue": "yes"}]}}, True),
    ({"ListOfTags": [  # OR: one is enough
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "stage", "ConditionValue": "prod"},
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}]}, True),
    ({"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "weekly"}]}, False),
    ({"Resources": [INSTANCE_ARN], "ListOfTags": [  # resources and tags together must both match
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}]}, False),
])
def test_backup_selection_decides_coverage(fields: dict[str, Any], selects: bool) -> None:
    decided, why = selection(**fields).selects(CLUSTER_ARN, {"backup": "daily"})
    assert decided is selects, why
    assert why.startswith("sel: ")


def test_backup_plan_lists_copy_destinations_by_region() -> None:
    plan = BackupPlan.from_api({"BackupPlanId": "p1", "BackupPlan": {"BackupPlanName": "daily", "Rules": [
        {"RuleName": "r1",
         "CopyActions": [{"DestinationBackupVaultArn": f"arn:aws:backup:{BACKUP}:1:backup-vault:dr"}]},
        {"RuleName": "r2",
         "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:us-east-1:1:backup-vault:x"}]},
        {"RuleName": "r3"}]}})
    assert plan.vaults_in(BACKUP) == [f"arn:aws:backup:{BACKUP}:1:backup-vault:dr"]
    assert plan.vaults_in(PRIMARY) == []


# -- the mechanisms, through stubbed API answers ----------------------------------------------------------

class StubbedAws:
    """The suite's AwsAccess whose clients answer from queued API-shaped responses."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=PRIMARY)
        self.access = AwsAccess(session, max_attempts=1)
        self._stubs: dict[tuple[str, str], Stubber] = {}

    def stub(self, service: str, region: str) -> Stubber:
        key = (service, region)
        if key not in self._stubs:
            self._stubs[key] = Stubber(self.access.client(service, region))
        return self._stubs[key]

    def answer(self, service: str, region: str, operation: str, response: dict[str, Any],
               params: dict[str, Any] | None = None) -> None:
        self.stub(service, region).add_response(operation, response, params)

    def fail(self, service: str, region: str, operation: str, code: str) -> None:
        self.stub(service, region).add_client_error(operation, code, http_status_code=403)

    def activate(self, stack: ExitStack) -> None:
        for stub in self._stubs.values():
            stack.enter_context(stub)

    def assert_all_used(self) -> None:
        for stub in self._stubs.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def aws() -> StubbedAws:
    return StubbedAws()


def no_copies_answers(aws: StubbedAws, global_clusters: list[dict[str, Any]] | None = None,
                      plans: list[dict[str, Any]] | None = None, snapshots: str = "DescribeDBClusterSnapshots") -> None:
    if global_clusters is not None:
        aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": global_clusters})
    aws.answer("backup", PRIMARY, "list_backup_plans", {"BackupPlansList": plans or []})
    key = "DBClusterSnapshots" if snapshots == "DescribeDBClusterSnapshots" else "DBSnapshots"
    method = "describe_db_cluster_snapshots" if key == "DBClusterSnapshots" else "describe_db_snapshots"
    aws.answer("rds", BACKUP, method, {key: []})
    no_replica_answers(aws, key == "DBClusterSnapshots")


def no_replica_answers(aws: StubbedAws, cluster: bool = True) -> None:
    """The backup region's databases, read for mechanism (e): none replicates from ours."""
    if cluster:
        aws.answer("rds", BACKUP, "describe_db_clusters", {"DBClusters": []})
    else:
        aws.answer("rds", BACKUP, "describe_db_instances", {"DBInstances": []})


def evaluate(aws: StubbedAws, database: Database) -> dict[str, Any]:
    facts = DatabaseFacts(aws.access, PRIMARY, BACKUP)
    with ExitStack() as stack:
        aws.activate(stack)
        mechanisms = facts.copies_in_backup_region(database, NOW, timedelta(hours=24))
    aws.assert_all_used()
    return {m.name: m for m in mechanisms}


def test_replicated_automated_backups_hold_for_an_instance(aws: StubbedAws) -> None:
    replicated = f"arn:aws:rds:{BACKUP}:123456789012:auto-backup:ab-1"
    database = Database.from_instance(instance(DBInstanceAutomatedBackupsReplications=[
        {"DBInstanceAutomatedBackupsArn": replicated}]))
    aws.answer("rds", BACKUP, "describe_db_instance_automated_backups", {"DBInstanceAutomatedBackups": [
        {"DBInstanceArn": INSTANCE_ARN, "DBInstanceAutomatedBackupsArn": replicated, "Region": PRIMARY,
         "Status": "replicating"}]}, {"DBInstanceAutomatedBackupsArn": replicated})
    no_copies_answers(aws, snapshots="DescribeDBSnapshots")
    found = evaluate(aws, database)
    assert found[BACKUP_REPLICATION].holds is True
    assert found[GLOBAL_CLUSTER].detail == "only Aurora clusters join global clusters"
    assert found[AWS_BACKUP_COPY].holds is False
    assert found[SNAPSHOT_COPY].holds is False


def test_replication_to_another_region_does_not_count(aws: StubbedAws) -> None:
    database = Database.from_instance(instance(DBInstanceAutomatedBackupsReplications=[
        {"DBInstanceAutomatedBackupsArn": "arn:aws:rds:us-east-1:123456789012:auto-backup:ab-1"}]))
    no_copies_answers(aws, snapshots="DescribeDBSnapshots")
    found = evaluate(aws, database)
    assert found[BACKUP_REPLICATION].holds is False
    assert found[BACKUP_REPLICATION].detail == f"automated backups are replicated to us-east-1, not {BACKUP}"


VAULT = f"arn:aws:backup:{BACKUP}:123456789012:backup-vault:dr"


def recovery_point(age: timedelta, status: str = "COMPLETED", resource: str = CLUSTER_ARN) -> dict[str, Any]:
    return {"RecoveryPointArn": f"arn:aws:rds:{BACKUP}:123456789012:cluster-snapshot:awsbackup:job-{age.seconds}",
            "BackupVaultName": "dr", "BackupVaultArn": VAULT, "ResourceArn": resource, "ResourceType": "Aurora",
            "Status": status, "CreationDate": NOW - age - timedelta(minutes=20), "CompletionDate": NOW - age,
            "EncryptionKeyArn": f"arn:aws:kms:{BACKUP}:123456789012:key/dr-key", "IsEncrypted": True}


def vault_answers(aws: StubbedAws, points: list[dict[str, Any]] | None) -> None:
    """The copy vault in the backup region: absent (None), or holding ``points``."""
    if points is None:
        aws.stub("backup", BACKUP).add_client_error("describe_backup_vault", "ResourceNotFoundException",
                                                    http_status_code=404)
        return
    aws.answer("backup", BACKUP, "describe_backup_vault", {"BackupVaultName": "dr", "BackupVaultArn": VAULT},
               {"BackupVaultName": "dr"})
    aws.answer("backup", BACKUP, "list_recovery_points_by_backup_vault", {"RecoveryPoints": points},
               {"BackupVaultName": "dr", "ByResourceArn": CLUSTER_ARN})


def backup_plan_answers(aws: StubbedAws, selection_fields: dict[str, Any], opted_in: bool | None) -> None:
    vault = VAULT
    aws.answer("backup", PRIMARY, "list_backup_plans", {"BackupPlansList": [{"BackupPlanId": "p1"}]})
    aws.answer("backup", PRIMARY, "get_backup_plan", {"BackupPlanId": "p1", "BackupPlan": {
        "BackupPlanName": "spacelift-daily", "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "Default",
                                                        "CopyActions": [{"DestinationBackupVaultArn": vault}]}]}},
               {"BackupPlanId": "p1"})
    aws.answer("backup", PRIMARY, "list_backup_selections", {"BackupSelectionsList": [
        {"SelectionId": "s1", "BackupPlanId": "p1"}]}, {"BackupPlanId": "p1"})
    aws.answer("backup", PRIMARY, "get_backup_selection", {
        "BackupPlanId": "p1", "SelectionId": "s1", "BackupSelection": {
            "SelectionName": "spacelift-db", "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
            **selection_fields}}, {"BackupPlanId": "p1", "SelectionId": "s1"})
    if opted_in is not None:
        aws.answer("backup", PRIMARY, "describe_region_settings",
                   {"ResourceTypeOptInPreference": {"Aurora": opted_in, "RDS": True}})


@pytest.mark.parametrize(("opted_in", "holds"), [(True, True), (False, False)])
def test_aws_backup_copy_needs_selection_copy_and_aurora_opt_in(aws: StubbedAws, opted_in: bool,
                                                                holds: bool) -> None:
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": []})
    backup_plan_answers(aws, {"Resources": ["*"], "Conditions": {"StringEquals": [
        {"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "daily"}]}}, opted_in)
    if holds:
        vault_answers(aws, [recovery_point(timedelta(hours=3))])
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    no_replica_answers(aws)
    found = evaluate(aws, Database.from_cluster(cluster()))
    assert found[AWS_BACKUP_COPY].holds is holds, found[AWS_BACKUP_COPY].detail
    if not holds:
        assert "not opted in for Aurora" in found[AWS_BACKUP_COPY].detail


def test_aws_backup_selection_that_misses_the_database_does_not_count(aws: StubbedAws) -> None:
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": []})
    backup_plan_answers(aws, {"Resources": ["arn:aws:rds:*:*:db:*"]}, opted_in=None)
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    no_replica_answers(aws)
    found = evaluate(aws, Database.from_cluster(cluster()))
    assert found[AWS_BACKUP_COPY].holds is False
    assert "matches none of Resources" in found[AWS_BACKUP_COPY].detail


def test_global_cluster_member_in_backup_region_holds(aws: StubbedAws) -> None:
    secondary = f"arn:aws:rds:{BACKUP}:123456789012:cluster:spacelift-ab12c-dr"
    unrelated = {"GlobalClusterIdentifier": "other", "GlobalClusterMembers": [
        member(f"arn:aws:rds:{BACKUP}:123456789012:cluster:other", True)]}
    mine = {"GlobalClusterIdentifier": "spacelift", "Status": "available", "GlobalClusterMembers": [
        member(CLUSTER_ARN, True), member(secondary, False)]}
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": [unrelated, mine]})
    aws.answer("rds", BACKUP, "describe_db_clusters", {"DBClusters": [cluster(
        DBClusterIdentifier="spacelift-ab12c-dr", DBClusterArn=secondary, KmsKeyId="dr-key")]})
    aws.answer("backup", PRIMARY, "list_backup_plans", {"BackupPlansList": []})
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    found = evaluate(aws, Database.from_cluster(cluster()))
    assert found[GLOBAL_CLUSTER].holds is True
    assert "spacelift-ab12c-dr available in eu-central-1" in found[GLOBAL_CLUSTER].detail
    copy = found[GLOBAL_CLUSTER].copy
    assert copy is not None
    assert (copy.arn, copy.kms_key_id) == (secondary, "dr-key")


def test_unobservable_mechanism_is_reported_not_decided(aws: StubbedAws) -> None:
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": []})
    aws.fail("backup", PRIMARY, "list_backup_plans", "AccessDeniedException")
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": [
        {"DBClusterSnapshotIdentifier": "nightly-dr", "DBClusterIdentifier": "spacelift-ab12c", "Status": "available",
         "SnapshotType": "manual", "SnapshotCreateTime": NOW - timedelta(hours=2)}]})
    no_replica_answers(aws)
    found = evaluate(aws, Database.from_cluster(cluster()))
    assert found[AWS_BACKUP_COPY].holds is None
    assert found[AWS_BACKUP_COPY].detail.startswith("backup:ListBackupPlans denied")
    assert found[SNAPSHOT_COPY].holds is True
    assert "2.0 h old" in found[SNAPSHOT_COPY].detail


# -- finding the database -------------------------------------------------------------------------------

def listing(aws: StubbedAws, clusters: list[dict[str, Any]], instances: list[dict[str, Any]]) -> DatabaseFacts:
    aws.answer("rds", PRIMARY, "describe_db_clusters", {"DBClusters": clusters})
    aws.answer("rds", PRIMARY, "describe_db_instances", {"DBInstances": instances})
    return DatabaseFacts(aws.access, PRIMARY, BACKUP)


def test_aurora_member_instance_endpoint_stands_for_its_cluster(aws: StubbedAws) -> None:
    member_instance = instance(DBInstanceIdentifier="spacelift-ab12c-1", DBClusterIdentifier="spacelift-ab12c",
                               Endpoint={"Address": "spacelift-ab12c-1.xyz.eu-west-1.rds.amazonaws.com"})
    facts = listing(aws, [cluster()], [member_instance])
    with ExitStack() as stack:
        aws.activate(stack)
        found = locate_database(facts, "postgres://u:p@SPACELIFT-AB12C-1.xyz.eu-west-1.rds.amazonaws.com/db",
                                None, None)
    assert found.database is not None
    assert found.database.kind == "cluster"
    assert "spacelift-ab12c-1.xyz.eu-west-1.rds.amazonaws.com is an endpoint of Aurora cluster" in found.basis


def test_reader_endpoint_finds_the_cluster_and_identifier_finds_an_instance(aws: StubbedAws) -> None:
    facts = listing(aws, [cluster()], [instance()])
    with ExitStack() as stack:
        aws.activate(stack)
        by_reader = locate_database(
            facts, "host=spacelift-ab12c.cluster-ro-xyz.eu-west-1.rds.amazonaws.com dbname=x", None, None)
        by_name = locate_database(facts, None, "arn:aws:secretsmanager:…:secret:db", "SPACELIFT")
    assert by_reader.database is not None
    assert by_reader.database.identifier == "spacelift-ab12c"
    assert by_name.database is not None
    assert by_name.database.label == "DB instance spacelift"


def test_nothing_to_go_by_is_unobservable_naming_the_setting(aws: StubbedAws) -> None:
    facts = DatabaseFacts(aws.access, PRIMARY, BACKUP)
    with pytest.raises(Unobservable, match=r"give database\.cluster_identifier"):
        locate_database(facts, None, "arn:aws:secretsmanager:eu-west-1:1:secret:db:DATABASE_URL::", None)
    with pytest.raises(Unobservable, match="DATABASE_URL is not set on any service"):
        locate_database(facts, None, None, None)


# -- revision 2: a copy counts only if it exists, is usable and is fresh ----------------------------------

def _global(status: str = "available") -> dict[str, Any]:
    secondary = f"arn:aws:rds:{BACKUP}:123456789012:cluster:spacelift-ab12c-dr"
    return {"GlobalClusterIdentifier": "spacelift", "Status": status, "GlobalClusterMembers": [
        member(CLUSTER_ARN, True), member(secondary, False)]}


@pytest.mark.parametrize(("global_status", "member_status", "reason"), [
    ("modifying", "available", "global cluster spacelift is modifying, not available"),
    ("available", "inaccessible-encryption-credentials",
     "member spacelift-ab12c-dr in eu-central-1 is inaccessible-encryption-credentials"),
])
def test_global_cluster_and_its_member_must_be_available(aws: StubbedAws, global_status: str, member_status: str,
                                                         reason: str) -> None:
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": [_global(global_status)]})
    if global_status == "available":
        aws.answer("rds", BACKUP, "describe_db_clusters", {"DBClusters": [cluster(
            DBClusterIdentifier="spacelift-ab12c-dr", DBClusterArn=f"arn:aws:rds:{BACKUP}:123456789012:cluster:"
            "spacelift-ab12c-dr", Status=member_status)]})
    aws.answer("backup", PRIMARY, "list_backup_plans", {"BackupPlansList": []})
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    if global_status != "available":
        no_replica_answers(aws)
    found = evaluate(aws, Database.from_cluster(cluster()))
    assert found[GLOBAL_CLUSTER].holds is False
    assert found[GLOBAL_CLUSTER].detail == reason


@pytest.mark.parametrize(("points", "holds", "detail"), [
    (None, False, "its copy vault dr does not exist in eu-central-1"),
    ([], False, "vault dr in eu-central-1 holds no COMPLETED recovery point of spacelift-ab12c"),
    ([recovery_point(timedelta(hours=1), status="PARTIAL"),
      recovery_point(timedelta(hours=2), resource=INSTANCE_ARN)], False,
     "vault dr in eu-central-1 holds no COMPLETED recovery point of spacelift-ab12c"),
    ([recovery_point(timedelta(hours=30))], False,
     "the newest recovery point of spacelift-ab12c in vault dr is 30.0 h"),
    ([recovery_point(timedelta(hours=30)), recovery_point(timedelta(hours=5))], True,
     "vault dr in eu-central-1 holds a COMPLETED recovery point 5.0 h old"),
])
def test_an_aws_backup_plan_counts_only_with_a_fresh_completed_copy(
        aws: StubbedAws, points: list[dict[str, Any]] | None, holds: bool, detail: str) -> None:
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": []})
    backup_plan_answers(aws, {"Resources": [CLUSTER_ARN]}, opted_in=True)
    vault_answers(aws, points)
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    no_replica_answers(aws)
    found = evaluate(aws, Database.from_cluster(cluster()))[AWS_BACKUP_COPY]
    assert found.holds is holds
    assert detail in found.detail
    if holds:
        assert found.copy is not None
        assert found.copy.kms_key_id == f"arn:aws:kms:{BACKUP}:123456789012:key/dr-key"
        assert found.copy.as_of == NOW - timedelta(hours=5)


def test_replicated_backups_carry_their_restore_window(aws: StubbedAws) -> None:
    replicated = f"arn:aws:rds:{BACKUP}:123456789012:auto-backup:ab-1"
    database = Database.from_instance(instance(DBInstanceAutomatedBackupsReplications=[
        {"DBInstanceAutomatedBackupsArn": replicated}]))
    aws.answer("rds", BACKUP, "describe_db_instance_automated_backups", {"DBInstanceAutomatedBackups": [
        {"DBInstanceAutomatedBackupsArn": replicated, "Status": "replicating", "KmsKeyId": "k",
         "RestoreWindow": {"EarliestTime": NOW - timedelta(days=7), "LatestTime": NOW - timedelta(minutes=8)}}]})
    no_copies_answers(aws, snapshots="DescribeDBSnapshots")
    found = evaluate(aws, database)[BACKUP_REPLICATION]
    assert found.copy is not None
    assert found.copy.as_of == NOW - timedelta(minutes=8)


@pytest.mark.parametrize(("status", "holds"), [("available", True), ("creating", False)])
def test_cross_region_read_replica_of_an_instance(aws: StubbedAws, status: str, holds: bool) -> None:
    aws.answer("backup", PRIMARY, "list_backup_plans", {"BackupPlansList": []})
    aws.answer("rds", BACKUP, "describe_db_snapshots", {"DBSnapshots": []})
    aws.answer("rds", BACKUP, "describe_db_instances", {"DBInstances": [
        instance(DBInstanceIdentifier="spacelift-dr", DBInstanceArn=f"arn:aws:rds:{BACKUP}:123456789012:db:"
                 "spacelift-dr", DBInstanceStatus=status, ReadReplicaSourceDBInstanceIdentifier=INSTANCE_ARN),
        instance(DBInstanceIdentifier="other", ReadReplicaSourceDBInstanceIdentifier="spacelift")]})
    found = evaluate(aws, Database.from_instance(instance()))[READ_REPLICA]
    assert found.holds is holds
    if holds:
        assert found.detail == "DB instance spacelift-dr in eu-central-1 replicates from spacelift (available)"
        assert found.copy is not None
        assert found.copy.lag is not None
        assert found.copy.lag.names == ("ReplicaLag",)
    else:
        assert found.detail == "DB instance spacelift-dr in eu-central-1 is creating"


def test_aurora_cluster_replicating_from_ours_is_a_read_replica(aws: StubbedAws) -> None:
    aws.answer("rds", PRIMARY, "describe_global_clusters", {"GlobalClusters": []})
    aws.answer("backup", PRIMARY, "list_backup_plans", {"BackupPlansList": []})
    aws.answer("rds", BACKUP, "describe_db_cluster_snapshots", {"DBClusterSnapshots": []})
    aws.answer("rds", BACKUP, "describe_db_clusters", {"DBClusters": [cluster(
        DBClusterIdentifier="spacelift-dr", DBClusterArn=f"arn:aws:rds:{BACKUP}:123456789012:cluster:spacelift-dr",
        ReplicationSourceIdentifier=CLUSTER_ARN)]})
    found = evaluate(aws, Database.from_cluster(cluster()))[READ_REPLICA]
    assert found.holds is True


# -- the locator follows the account's Route 53 records ---------------------------------------------------

def zones_answers(aws: StubbedAws, records: list[dict[str, Any]]) -> None:
    aws.answer("route53", "us-east-1", "list_hosted_zones", {"HostedZones": [
        {"Id": "/hostedzone/Z1", "Name": "acme.internal.", "CallerReference": "x", "Config": {"PrivateZone": True}}],
        "IsTruncated": False, "Marker": "", "MaxItems": "100"})
    aws.answer("route53", "us-east-1", "list_resource_record_sets", {"ResourceRecordSets": records,
                                                                     "IsTruncated": False, "MaxItems": "300"})


WRITER = "spacelift-ab12c.cluster-xyz.eu-west-1.rds.amazonaws.com"


@pytest.mark.parametrize("record", [
    {"Name": "db.acme.internal.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": WRITER}]},
    {"Name": "db.acme.internal.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "rw.acme.internal"}]},
    {"Name": "db.acme.internal.", "Type": "A", "AliasTarget": {"HostedZoneId": "Z1", "DNSName": "rw.acme.internal.",
                                                               "EvaluateTargetHealth": False}},
])
def test_a_company_name_leads_to_the_cluster(aws: StubbedAws, record: dict[str, Any]) -> None:
    rw = {"Name": "rw.acme.internal.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": WRITER}]}
    facts = listing(aws, [cluster()], [])
    zones_answers(aws, [record, rw])
    with ExitStack() as stack:
        aws.activate(stack)
        found = locate_database(facts, "postgres://u:p@db.acme.internal:5432/spacelift", None, None)
    assert found.database is not None
    assert found.database.identifier == "spacelift-ab12c"
    assert "leads through the account's Route 53 records (db.acme.internal →" in found.basis


def test_a_name_that_leads_to_no_rds_endpoint_is_an_error_naming_both_keys(aws: StubbedAws) -> None:
    facts = listing(aws, [cluster()], [])
    zones_answers(aws, [{"Name": "db.acme.internal.", "Type": "CNAME", "TTL": 60,
                         "ResourceRecords": [{"Value": "pg.elsewhere.example"}]}])
    with ExitStack() as stack:
        aws.activate(stack)
        with pytest.raises(Unobservable) as raised:
            locate_database(facts, "postgres://u:p@db.acme.internal/spacelift", None, None)
    message = str(raised.value)
    assert "db.acme.internal → pg.elsewhere.example" in message
    assert "database.cluster_identifier" in message
    assert "database.self_managed" in message


def test_self_managed_is_declared_and_reads_nothing(aws: StubbedAws) -> None:
    facts = DatabaseFacts(aws.access, PRIMARY, BACKUP)
    with ExitStack() as stack:
        aws.activate(stack)
        found = locate_database(facts, "postgres://u:p@db.acme.internal/spacelift", None, None, self_managed=True)
    assert found.database is None
    assert "database.self_managed is true" in found.basis


# -- DR-DB-09: measuring the copy --------------------------------------------------------------------------

def metric_answer(values: list[float]) -> dict[str, Any]:
    return {"MetricDataResults": [{"Id": "lag", "Label": "x", "StatusCode": "Complete", "Values": values,
                                   "Timestamps": [NOW - timedelta(minutes=i) for i in range(len(values))]}]}


def test_lag_metrics_in_milliseconds_and_the_larger_counts(aws: StubbedAws) -> None:
    lag = LagMetric(("AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag"), "DBClusterIdentifier", "dr", 1000.0)
    secondary = Copy("Aurora global secondary cluster", f"arn:aws:rds:{BACKUP}:1:cluster:dr", BACKUP, None, lag=lag)
    mechanism = Mechanism(GLOBAL_CLUSTER, True, "", copy=secondary)
    aws.answer("cloudwatch", BACKUP, "get_metric_data", metric_answer([1200.0, 900.0]))
    aws.answer("cloudwatch", BACKUP, "get_metric_data", metric_answer([4000.0]))
    with ExitStack() as stack:
        aws.activate(stack)
        age = measure_copy(aws.access, mechanism, NOW, NOW)
    assert age.seconds == 4.0
    assert age.measured == "AuroraGlobalDBReplicationLag 4.0 s, max over the last hour"
    assert age.mechanism == "Aurora global secondary cluster dr"


def test_no_datapoint_measures_nothing_and_a_snapshot_is_as_old_as_it_is(aws: StubbedAws) -> None:
    lag = LagMetric(("ReplicaLag",), "DBInstanceIdentifier", "spacelift-dr", 1.0)
    replica = Mechanism(READ_REPLICA, True, "", copy=Copy("cross-region read replica", "arn:x:db:spacelift-dr", BACKUP,
                                                          None, lag=lag))
    aws.answer("cloudwatch", BACKUP, "get_metric_data", metric_answer([]))
    snapshot = Mechanism(SNAPSHOT_COPY, True, "", copy=Copy("snapshot", "arn:x:snap", BACKUP, None,
                                                            as_of=NOW - timedelta(hours=3)))
    with ExitStack() as stack:
        aws.activate(stack)
        unmeasured = measure_copy(aws.access, replica, NOW, NOW)
    assert unmeasured.seconds is None
    assert "no ReplicaLag datapoint" in unmeasured.measured
    assert measure_copy(aws.access, snapshot, NOW, NOW).seconds == 3 * 3600
