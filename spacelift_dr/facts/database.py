"""RDS / Aurora facts: which database the services use, its backup settings, and its copies in the
backup region (Aurora global cluster, replicated automated backups, AWS Backup copies, snapshots).

Every decision is a pure function of API-shaped dicts (``from_api``), so it is tested without AWS. Where
an API's server-side filter is not reliable (DescribeGlobalClusters; snapshots of a cluster that does not
exist in the region asked), the suite lists and filters here, which is also right on real AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..aws import AwsAccess
from ..errors import Unobservable
from .postgres import userinfo_is_ambiguous
from .s3 import arn_region

# DATABASE_URL in keyword form: ``host=db.example port=5432 …``
_KEYWORD_HOST = re.compile(r"(?:^|\s)host\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def dsn_host(dsn: str) -> str | None:
    """The host a DSN connects to (URL or keyword form), lower-cased; None when it names none.

    >>> dsn_host("postgres://u:p@db.example:5432/spacelift")
    'db.example'
    """
    dsn = dsn.strip()
    if "://" in dsn:
        if userinfo_is_ambiguous(dsn):
            return None  # which part is the host cannot be told (see facts.postgres)
        try:
            host = urlsplit(dsn).hostname
        except ValueError:
            return None
        return host.lower() if host else None
    match = _KEYWORD_HOST.search(dsn)
    if not match:
        return None
    host = match.group(1).strip("'").split(",")[0]
    return host.lower() or None


def _tags(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    return {t.get("Key", ""): t.get("Value", "") for t in tag_list or []}


@dataclass(frozen=True)
class Database:
    """An RDS/Aurora database as DescribeDBClusters / DescribeDBInstances describe it.

    ``kind`` is ``cluster`` (Aurora, or a Multi-AZ DB cluster) or ``instance`` (a plain RDS instance).
    """

    kind: str
    identifier: str
    arn: str
    resource_id: str | None
    engine: str
    engine_version: str
    status: str
    endpoints: tuple[str, ...]
    backup_retention_period: int | None
    latest_restorable_time: datetime | None
    deletion_protection: bool | None
    storage_encrypted: bool | None
    kms_key_id: str | None
    global_cluster_identifier: str | None = None
    # DB instances only: ARNs of automated backups replicated to other regions.
    automated_backup_replications: tuple[str, ...] = ()
    cluster_identifier: str | None = None  # for an instance that belongs to a cluster
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_cluster(cls, cluster: dict[str, Any]) -> Database:
        endpoints = [cluster.get("Endpoint"), cluster.get("ReaderEndpoint"), *cluster.get("CustomEndpoints", [])]
        return cls(
            kind="cluster",
            identifier=cluster["DBClusterIdentifier"],
            arn=cluster.get("DBClusterArn", ""),
            resource_id=cluster.get("DbClusterResourceId"),
            engine=cluster.get("Engine", ""),
            engine_version=cluster.get("EngineVersion", ""),
            status=cluster.get("Status", ""),
            endpoints=tuple(e.lower() for e in endpoints if e),
            backup_retention_period=cluster.get("BackupRetentionPeriod"),
            latest_restorable_time=cluster.get("LatestRestorableTime"),
            deletion_protection=cluster.get("DeletionProtection"),
            storage_encrypted=cluster.get("StorageEncrypted"),
            kms_key_id=cluster.get("KmsKeyId"),
            global_cluster_identifier=cluster.get("GlobalClusterIdentifier") or None,
            tags=_tags(cluster.get("TagList")),
        )

    @classmethod
    def from_instance(cls, instance: dict[str, Any]) -> Database:
        address = (instance.get("Endpoint") or {}).get("Address")
        return cls(
            kind="instance",
            identifier=instance["DBInstanceIdentifier"],
            arn=instance.get("DBInstanceArn", ""),
            resource_id=instance.get("DbiResourceId"),
            engine=instance.get("Engine", ""),
            engine_version=instance.get("EngineVersion", ""),
            status=instance.get("DBInstanceStatus", ""),
            endpoints=(address.lower(),) if address else (),
            backup_retention_period=instance.get("BackupRetentionPeriod"),
            latest_restorable_time=instance.get("LatestRestorableTime"),
            deletion_protection=instance.get("DeletionProtection"),
            storage_encrypted=instance.get("StorageEncrypted"),
            kms_key_id=instance.get("KmsKeyId"),
            automated_backup_replications=tuple(
                r["DBInstanceAutomatedBackupsArn"] for r in instance.get("DBInstanceAutomatedBackupsReplications") or []
                if r.get("DBInstanceAutomatedBackupsArn")),
            cluster_identifier=instance.get("DBClusterIdentifier") or None,
            tags=_tags(instance.get("TagList")),
        )

    @property
    def label(self) -> str:
        """``Aurora cluster spacelift-ab12c``, ``DB instance spacelift``: how messages name it."""
        if self.kind == "instance":
            return f"DB instance {self.identifier}"
        return f"{'Aurora' if self.is_aurora else 'Multi-AZ DB'} cluster {self.identifier}"

    @property
    def is_aurora(self) -> bool:
        return self.engine.startswith("aurora")

    @property
    def backup_resource_type(self) -> str:
        """The AWS Backup resource type whose opt-in governs this database."""
        return "Aurora" if self.is_aurora else "RDS"

    def reported(self, api_field: str) -> Any:
        """A field the API always returns for a database; its absence is an answer the suite does not
        understand (ERROR naming the read), never a default."""
        value = {"BackupRetentionPeriod": self.backup_retention_period, "DeletionProtection": self.deletion_protection,
                 "StorageEncrypted": self.storage_encrypted}[api_field]
        if value is None:
            action = "rds:DescribeDBClusters" if self.kind == "cluster" else "rds:DescribeDBInstances"
            raise Unobservable(action, self.identifier, f"the response has no {api_field}")
        return value

    def pitr_lag(self, now: datetime) -> timedelta | None:
        """How far the latest restorable time trails ``now``; None when the API reports none."""
        if self.latest_restorable_time is None:
            return None
        return now - self.latest_restorable_time

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "DBIdentifier": self.identifier,
            "Arn": self.arn,
            "Engine": f"{self.engine} {self.engine_version}".strip(),
            "Status": self.status,
        }


@dataclass(frozen=True)
class GlobalMember:
    cluster_arn: str
    is_writer: bool

    @property
    def region(self) -> str | None:
        return arn_region(self.cluster_arn)


@dataclass(frozen=True)
class GlobalCluster:
    """One entry of DescribeGlobalClusters."""

    identifier: str
    status: str
    members: tuple[GlobalMember, ...]

    @classmethod
    def from_api(cls, entry: dict[str, Any]) -> GlobalCluster:
        return cls(
            identifier=entry.get("GlobalClusterIdentifier", ""),
            status=entry.get("Status", ""),
            members=tuple(GlobalMember(m.get("DBClusterArn", ""), bool(m.get("IsWriter")))
                          for m in entry.get("GlobalClusterMembers", [])),
        )

    def has_member(self, cluster_arn: str) -> bool:
        return any(m.cluster_arn == cluster_arn for m in self.members)

    def members_in(self, region: str) -> list[GlobalMember]:
        return [m for m in self.members if m.region == region]


def global_clusters_with(cluster_arn: str, entries: list[dict[str, Any]]) -> list[GlobalCluster]:
    """The global clusters ``cluster_arn`` belongs to. DescribeGlobalClusters' filters are not relied on:
    moto ignores them, and real AWS filters only by region, so membership is decided here."""
    found = [GlobalCluster.from_api(e) for e in entries]
    return [g for g in found if g.has_member(cluster_arn)]


@dataclass(frozen=True)
class Snapshot:
    """A DB cluster snapshot or DB snapshot, with the database it was taken of."""

    identifier: str
    arn: str
    source_identifier: str  # DBClusterIdentifier / DBInstanceIdentifier of the database it is of
    source_resource_id: str | None
    status: str
    snapshot_type: str
    created: datetime | None

    @classmethod
    def from_cluster_snapshot(cls, entry: dict[str, Any]) -> Snapshot:
        return cls(
            identifier=entry.get("DBClusterSnapshotIdentifier", ""),
            arn=entry.get("DBClusterSnapshotArn", ""),
            source_identifier=entry.get("DBClusterIdentifier", ""),
            source_resource_id=entry.get("DbClusterResourceId"),
            status=entry.get("Status", ""),
            snapshot_type=entry.get("SnapshotType", ""),
            created=entry.get("SnapshotCreateTime"),
        )

    @classmethod
    def from_db_snapshot(cls, entry: dict[str, Any]) -> Snapshot:
        return cls(
            identifier=entry.get("DBSnapshotIdentifier", ""),
            arn=entry.get("DBSnapshotArn", ""),
            source_identifier=entry.get("DBInstanceIdentifier", ""),
            source_resource_id=entry.get("DbiResourceId"),
            status=entry.get("Status", ""),
            snapshot_type=entry.get("SnapshotType", ""),
            # A copy's SnapshotCreateTime is when it was copied; the data is as old as the original.
            created=entry.get("OriginalSnapshotCreateTime") or entry.get("SnapshotCreateTime"),
        )

    def of(self, database: Database) -> bool:
        """Taken of ``database``: same identifier, and the same resource id whenever the API reports one
        (so a same-named database elsewhere does not count)."""
        if self.source_identifier != database.identifier:
            return False
        return not (self.source_resource_id and database.resource_id
                    and self.source_resource_id != database.resource_id)

    def age(self, now: datetime) -> timedelta | None:
        return None if self.created is None else now - self.created

    def summary(self, now: datetime) -> dict[str, Any]:
        age = self.age(now)
        return {"snapshot": self.identifier, "Status": self.status, "SnapshotType": self.snapshot_type,
                "created": self.created.isoformat() if self.created else None,
                "age_hours": round(age.total_seconds() / 3600, 2) if age is not None else None}


def recent_snapshots(database: Database, snapshots: list[Snapshot], now: datetime,
                     max_age: timedelta) -> list[Snapshot]:
    """Available snapshots of ``database`` no older than ``max_age``, newest first."""
    mine = [s for s in snapshots if s.of(database) and s.status == "available" and s.created is not None]
    fresh = [s for s in mine if (age := s.age(now)) is not None and age <= max_age]
    return sorted(fresh, key=lambda s: s.created or now, reverse=True)


# -- AWS Backup -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BackupPlan:
    """GetBackupPlan: the plan's rules and where each copies recovery points to."""

    plan_id: str
    name: str
    copy_destinations: tuple[tuple[str, str], ...]  # (rule name, destination vault ARN)

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> BackupPlan:
        plan = response.get("BackupPlan") or {}
        copies = tuple((rule.get("RuleName", ""), action.get("DestinationBackupVaultArn", ""))
                       for rule in plan.get("Rules", []) for action in rule.get("CopyActions") or [])
        return cls(response.get("BackupPlanId", ""), plan.get("BackupPlanName", ""), copies)

    def vaults_in(self, region: str) -> list[str]:
        return [vault for _, vault in self.copy_destinations if arn_region(vault) == region]


def arn_like(pattern: str, arn: str) -> bool:
    """AWS Backup's resource pattern: ``*`` stands for zero or more non-whitespace characters."""
    regex = "".join(r"\S*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
    return re.fullmatch(regex, arn) is not None


def _tag_key(condition_key: str) -> str:
    return condition_key.removeprefix("aws:ResourceTag/")


def _condition_holds(operator: str, key: str, value: str, tags: dict[str, str]) -> bool:
    actual = tags.get(_tag_key(key))
    if operator == "StringEquals":
        return actual == value
    if operator == "StringLike":
        return actual is not None and arn_like(value, actual)
    # Negated operators hold when the tag is absent, as IAM condition operators do.
    if operator == "StringNotEquals":
        return actual != value
    if operator == "StringNotLike":
        return actual is None or not arn_like(value, actual)
    return False  # an operator this suite does not know never selects anything


@dataclass(frozen=True)
class BackupSelection:
    """GetBackupSelection: which resources a plan backs up."""

    name: str
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    list_of_tags: tuple[tuple[str, str, str], ...]  # (ConditionType, ConditionKey, ConditionValue)
    conditions: tuple[tuple[str, str, str], ...]  # (operator, ConditionKey, ConditionValue)

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> BackupSelection:
        selection = response.get("BackupSelection") or {}
        conditions = selection.get("Conditions") or {}
        return cls(
            name=selection.get("SelectionName", ""),
            resources=tuple(selection.get("Resources") or []),
            not_resources=tuple(selection.get("NotResources") or []),
            list_of_tags=tuple((t.get("ConditionType", ""), t.get("ConditionKey", ""), t.get("ConditionValue", ""))
                               for t in selection.get("ListOfTags") or []),
            conditions=tuple((operator, c.get("ConditionKey", ""), c.get("ConditionValue", ""))
                             for operator, entries in conditions.items() for c in entries or []),
        )

    def selects(self, arn: str, tags: dict[str, str]) -> tuple[bool, str]:
        """Whether the selection covers the resource, and why (for the evidence).

        Resources are OR-ed, NotResources exclude, Conditions are AND-ed, ListOfTags OR-ed; resources and
        tags together must both match (AWS filters by resource first, then by tags)."""
        if self.resources and not any(arn_like(p, arn) for p in self.resources):
            return False, f"{self.name}: the ARN matches none of Resources {list(self.resources)}"
        excluded = [p for p in self.not_resources if arn_like(p, arn)]
        if excluded:
            return False, f"{self.name}: excluded by NotResources {excluded}"
        failed = [f"{op} {key}={value}" for op, key, value in self.conditions
                  if not _condition_holds(op, key, value, tags)]
        if failed:
            return False, f"{self.name}: tag conditions not met: {', '.join(failed)}"
        if self.list_of_tags and not any(
                kind.upper() == "STRINGEQUALS" and _condition_holds("StringEquals", key, value, tags)
                for kind, key, value in self.list_of_tags):
            return False, f"{self.name}: none of ListOfTags matches the database's tags"
        return True, f"{self.name}: selects the database"

    @property
    def by_explicit_resource(self) -> bool:
        """Names resources other than ``*`` (an explicit assignment: service opt-in is not needed for RDS)."""
        return any(p != "*" for p in self.resources)


# -- mechanisms of DR-DB-04 -------------------------------------------------------------------------------

@dataclass
class Mechanism:
    """One way of having a copy in the backup region, and whether this installation has it."""

    name: str
    holds: bool | None = None  # None: could not be observed
    detail: str = ""
    error: Unobservable | None = None

    def summary(self) -> dict[str, Any]:
        verdict = "unobservable" if self.holds is None else ("holds" if self.holds else "does not hold")
        return {"verdict": verdict, "detail": self.detail}


GLOBAL_CLUSTER = "aurora-global-cluster"
BACKUP_REPLICATION = "automated-backup-replication"
AWS_BACKUP_COPY = "aws-backup-copy"
SNAPSHOT_COPY = "snapshot-in-backup-region"


class DatabaseFacts:
    """Read-only views over RDS and AWS Backup for one run (each read made once through AwsAccess)."""

    def __init__(self, aws: AwsAccess, primary_region: str, backup_region: str) -> None:
        self._aws = aws
        self.primary = primary_region
        self.backup = backup_region

    # -- finding the database ----------------------------------------------------------------------

    def clusters(self) -> list[Database]:
        found = self._aws.paginate("rds", self.primary, "DescribeDBClusters", "DBClusters",
                                   resource=f"DB clusters in {self.primary}")
        return [Database.from_cluster(c) for c in found or []]

    def instances(self) -> list[Database]:
        found = self._aws.paginate("rds", self.primary, "DescribeDBInstances", "DBInstances",
                                   resource=f"DB instances in {self.primary}")
        return [Database.from_instance(i) for i in found or []]

    def by_identifier(self, identifier: str) -> Database | None:
        """The cluster, else the stand-alone instance, with that identifier (RDS identifiers are
        case-insensitive)."""
        wanted = identifier.lower()
        for cluster in self.clusters():
            if cluster.identifier.lower() == wanted:
                return cluster
        for instance in self.instances():
            if instance.identifier.lower() == wanted:
                return self._owner(instance)
        return None

    def by_endpoint(self, host: str) -> Database | None:
        """The database whose writer, reader, custom or instance endpoint is ``host``."""
        host = host.lower()
        for cluster in self.clusters():
            if host in cluster.endpoints:
                return cluster
        for instance in self.instances():
            if host in instance.endpoints:
                return self._owner(instance)
        return None

    def _owner(self, instance: Database) -> Database:
        # An Aurora or Multi-AZ cluster member stands for its cluster: backups are the cluster's.
        if instance.cluster_identifier:
            for cluster in self.clusters():
                if cluster.identifier == instance.cluster_identifier:
                    return cluster
        return instance

    # -- copies in the backup region ---------------------------------------------------------------

    def copies_in_backup_region(self, database: Database, now: datetime, max_snapshot_age: timedelta
                                ) -> list[Mechanism]:
        """Each of DR-DB-04's four mechanisms, evaluated on its own: one unobservable mechanism does
        not hide another that holds."""
        checks = [
            (GLOBAL_CLUSTER, lambda: self._global_cluster(database)),
            (BACKUP_REPLICATION, lambda: self._backup_replication(database)),
            (AWS_BACKUP_COPY, lambda: self._aws_backup_copy(database)),
            (SNAPSHOT_COPY, lambda: self._snapshot_copy(database, now, max_snapshot_age)),
        ]
        mechanisms = []
        for name, check in checks:
            try:
                holds, detail = check()
                mechanisms.append(Mechanism(name, holds, detail))
            except Unobservable as error:
                mechanisms.append(Mechanism(name, None, str(error), error))
        return mechanisms

    def _global_cluster(self, database: Database) -> tuple[bool, str]:
        if database.kind != "cluster" or not database.is_aurora:
            return False, "only Aurora clusters join global clusters"
        entries = self._aws.paginate("rds", self.primary, "DescribeGlobalClusters", "GlobalClusters",
                                     resource=f"global clusters (member {database.identifier})")
        mine = global_clusters_with(database.arn, entries or [])
        if not mine:
            return False, f"{database.identifier} is not a member of any global cluster"
        for glob in mine:
            members = glob.members_in(self.backup)
            if members:
                return True, (f"global cluster {glob.identifier} has member "
                              f"{', '.join(m.cluster_arn for m in members)} in {self.backup}")
        regions = sorted({m.region or "?" for g in mine for m in g.members})
        return False, (f"global cluster {', '.join(g.identifier for g in mine)} has members only in "
                       f"{', '.join(regions)}")

    def _backup_replication(self, database: Database) -> tuple[bool, str]:
        if database.kind != "instance":
            return False, "RDS replicates automated backups across regions only for DB instances"
        to_backup = [arn for arn in database.automated_backup_replications if arn_region(arn) == self.backup]
        if not to_backup:
            where = sorted({arn_region(a) or "?" for a in database.automated_backup_replications})
            return False, ("automated backups are not replicated to another region" if not where else
                           f"automated backups are replicated to {', '.join(where)}, not {self.backup}")
        for arn in to_backup:
            found = self._aws.call("rds", self.backup, "DescribeDBInstanceAutomatedBackups", resource=arn,
                                   absent=("DBInstanceAutomatedBackupNotFound",
                                           "DBInstanceAutomatedBackupNotFoundFault"),
                                   DBInstanceAutomatedBackupsArn=arn)
            for backup in (found or {}).get("DBInstanceAutomatedBackups", []):
                if backup.get("Status") in {"replicating", "active"}:
                    return True, f"automated backups replicate to {arn} (status {backup['Status']})"
        return False, f"the replicated automated backups {', '.join(to_backup)} are not replicating"

    def _aws_backup_copy(self, database: Database) -> tuple[bool, str]:
        plans = self._aws.paginate("backup", self.primary, "ListBackupPlans", "BackupPlansList",
                                   resource=f"backup plans in {self.primary}")
        if not plans:
            return False, f"no AWS Backup plan in {self.primary}"
        reasons: list[str] = []
        for entry in plans:
            plan_id = entry["BackupPlanId"]
            response = self._aws.call("backup", self.primary, "GetBackupPlan", resource=f"backup plan {plan_id}",
                                      BackupPlanId=plan_id)
            plan = BackupPlan.from_api(response or {})
            vaults = plan.vaults_in(self.backup)
            if not vaults:
                reasons.append(f"plan {plan.name or plan_id} copies to no vault in {self.backup}")
                continue
            selected, why = self._selected_by(plan_id, plan.name or plan_id, database)
            if selected:
                return True, (f"plan {plan.name or plan_id} selects {database.identifier} ({why}) "
                              f"and copies to {vaults[0]}")
            reasons.append(why)
        return False, "; ".join(reasons)

    def _selected_by(self, plan_id: str, plan_name: str, database: Database) -> tuple[bool, str]:
        selections = self._aws.paginate("backup", self.primary, "ListBackupSelections", "BackupSelectionsList",
                                        resource=f"backup plan {plan_id}", BackupPlanId=plan_id)
        reasons = []
        for entry in selections or []:
            response = self._aws.call("backup", self.primary, "GetBackupSelection",
                                      resource=f"backup selection {entry['SelectionId']}",
                                      BackupPlanId=plan_id, SelectionId=entry["SelectionId"])
            selection = BackupSelection.from_api(response or {})
            selects, why = selection.selects(database.arn, database.tags)
            # Aurora is backed up only when opted in, whatever the selection; RDS when not named explicitly.
            needs_opt_in = database.is_aurora or not selection.by_explicit_resource
            if selects and needs_opt_in and not self._opted_in(database.backup_resource_type):
                selects, why = False, (f"{selection.name}: selects it, but AWS Backup is not opted in for "
                                       f"{database.backup_resource_type} in {self.primary}")
            if selects:
                return True, why
            reasons.append(why)
        return False, f"plan {plan_name}: " + ("; ".join(reasons) or "has no resource selection")

    def _opted_in(self, resource_type: str) -> bool:
        response = self._aws.call("backup", self.primary, "DescribeRegionSettings",
                                  resource=f"AWS Backup settings in {self.primary}")
        return bool(((response or {}).get("ResourceTypeOptInPreference") or {}).get(resource_type))

    def _snapshot_copy(self, database: Database, now: datetime, max_age: timedelta) -> tuple[bool, str]:
        if database.kind == "cluster":
            entries = self._aws.paginate("rds", self.backup, "DescribeDBClusterSnapshots", "DBClusterSnapshots",
                                         resource=f"DB cluster snapshots in {self.backup}")
            snapshots = [Snapshot.from_cluster_snapshot(e) for e in entries or []]
        else:
            entries = self._aws.paginate("rds", self.backup, "DescribeDBSnapshots", "DBSnapshots",
                                         resource=f"DB snapshots in {self.backup}")
            snapshots = [Snapshot.from_db_snapshot(e) for e in entries or []]
        fresh = recent_snapshots(database, snapshots, now, max_age)
        if fresh:
            return True, (f"snapshot {fresh[0].identifier} of {database.identifier} in {self.backup} is "
                          f"{_hours(fresh[0].age(now))} old (at most {_hours(max_age)})")
        mine = sorted((s for s in snapshots if s.of(database)), key=lambda s: s.created or now, reverse=True)
        if not mine:
            return False, f"no snapshot of {database.identifier} in {self.backup}"
        newest = mine[0]
        return False, (f"newest snapshot of {database.identifier} in {self.backup} is {newest.identifier} "
                       f"({newest.status}, {_hours(newest.age(now))} old; at most {_hours(max_age)} expected)")


def _hours(delta: timedelta | None) -> str:
    if delta is None:
        return "of unknown age"
    return f"{delta.total_seconds() / 3600:.1f} h"


# -- which database the installation uses --------------------------------------------------------------

_RDS_HOST = re.compile(r"\.rds\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class Located:
    """The outcome of finding the installation's database: the RDS/Aurora database, or None for a
    self-managed one, and how that was decided (for the evidence and the N/A reason)."""

    database: Database | None
    basis: str


def locate_database(facts: DatabaseFacts, database_url: str | None, database_url_ref: str | None,
                    cluster_identifier: str | None) -> Located:
    """Find the database: DATABASE_URL's host (when its value is known) among the endpoints of the
    primary region's clusters and instances; else ``database.cluster_identifier``. Raises Unobservable
    when neither says which database it is."""
    host = dsn_host(database_url) if database_url else None
    if host:
        found = facts.by_endpoint(host)
        if found is not None:
            return Located(found, f"DATABASE_URL's host {host} is an endpoint of {found.label}")
    if cluster_identifier:
        found = facts.by_identifier(cluster_identifier)
        if found is None:
            raise Unobservable("rds:DescribeDBClusters", cluster_identifier,
                               f"database.cluster_identifier {cluster_identifier} names no DB cluster or "
                               f"instance in {facts.primary}")
        return Located(found, f"database.cluster_identifier is {cluster_identifier}")
    if host:
        if _RDS_HOST.search(host):
            raise Unobservable("rds:DescribeDBClusters", host,
                               f"DATABASE_URL's host {host} is an RDS endpoint but matches no DB cluster or instance "
                               f"in {facts.primary}; give database.cluster_identifier")
        return Located(None, f"DATABASE_URL's host {host} is not an RDS or Aurora endpoint in {facts.primary} "
                             f"(a self-managed database: see DR-DB-08); if it is an alias of one, give "
                             f"database.cluster_identifier")
    if database_url_ref:
        reason = (f"DATABASE_URL is a secret reference ({database_url_ref}) whose value the suite does not read; "
                  f"give database.cluster_identifier, or DATABASE_URL under installation.settings")
    else:
        reason = "DATABASE_URL is not set on any service; give database.cluster_identifier"
    raise Unobservable("spacelift:setting", "DATABASE_URL", reason)
