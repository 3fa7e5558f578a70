"""RDS / Aurora facts: which database the services use, its backup settings, and its copies in the
backup region (Aurora global cluster, replicated automated backups, AWS Backup copies, snapshots).

Every decision is a pure function of API-shaped dicts (``from_api``), so it is tested without AWS. Where
an API's server-side filter is not reliable (DescribeGlobalClusters; snapshots of a cluster that does not
exist in the region asked), the suite lists and filters here, which is also right on real AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..aws import AwsAccess
from ..errors import Unobservable
from .broker import ROUTE53_REGION, HostedZone, RecordSet, most_specific_zones, normalise_dns
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
    # A cross-region read replica names its source: ReplicationSourceIdentifier (cluster),
    # ReadReplicaSourceDBInstanceIdentifier (instance); an ARN when the source is in another region.
    replication_source: str | None = None

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
            replication_source=cluster.get("ReplicationSourceIdentifier") or None,
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
            replication_source=instance.get("ReadReplicaSourceDBInstanceIdentifier") or None,
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

    @property
    def storage_key(self) -> str | None:
        """The KMS key of its storage; only an encrypted database has one (moto names one regardless)."""
        return self.kms_key_id if self.storage_encrypted else None

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

    @property
    def available(self) -> bool:
        return self.status == "available"

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
    kms_key_id: str | None = None

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
            kms_key_id=entry.get("KmsKeyId"),
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
            kms_key_id=entry.get("KmsKeyId"),
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


@dataclass(frozen=True)
class RecoveryPoint:
    """One entry of ListRecoveryPointsByBackupVault."""

    arn: str
    resource_arn: str
    status: str
    completed: datetime | None
    encryption_key_arn: str | None

    @classmethod
    def from_api(cls, entry: dict[str, Any]) -> RecoveryPoint:
        return cls(arn=entry.get("RecoveryPointArn", ""), resource_arn=entry.get("ResourceArn", ""),
                   status=entry.get("Status", ""), completed=entry.get("CompletionDate"),
                   encryption_key_arn=entry.get("EncryptionKeyArn"))


def newest_completed(points: list[RecoveryPoint], resource_arn: str) -> RecoveryPoint | None:
    """The newest COMPLETED recovery point of ``resource_arn`` (the vault may hold other resources')."""
    mine = [p for p in points if p.resource_arn == resource_arn and p.status == "COMPLETED" and p.completed]
    return max(mine, key=lambda p: p.completed or datetime.min, default=None)


def vault_name(vault_arn: str) -> str:
    """``arn:aws:backup:eu-central-1:123456789012:backup-vault:dr`` → ``dr``."""
    return vault_arn.split(":backup-vault:", 1)[1] if ":backup-vault:" in vault_arn else vault_arn


# -- mechanisms of DR-DB-04 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LagMetric:
    """A CloudWatch lag metric of a copy: names (the larger counts), the dimension, and its unit."""

    names: tuple[str, ...]
    dimension: str
    value: str
    per_second: float  # datapoints per second of lag (1000 for milliseconds)


@dataclass(frozen=True)
class Copy:
    """The database copy in the backup region a mechanism found: what DR-DB-09 measures and DR-KMS-06
    follows. ``as_of`` for point-in-time copies, ``lag`` for continuously replicated ones."""

    kind: str
    arn: str
    region: str
    kms_key_id: str | None
    as_of: datetime | None = None
    lag: LagMetric | None = None

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "arn": self.arn, "region": self.region, "KmsKeyId": self.kms_key_id,
                **({"as_of": self.as_of.isoformat()} if self.as_of else {})}

@dataclass
class Mechanism:
    """One way of having a copy in the backup region, and whether this installation has it."""

    name: str
    holds: bool | None = None  # None: could not be observed
    detail: str = ""
    error: Unobservable | None = None
    copy: Copy | None = None  # when it holds

    def summary(self) -> dict[str, Any]:
        verdict = "unobservable" if self.holds is None else ("holds" if self.holds else "does not hold")
        return {"verdict": verdict, "detail": self.detail, **({"copy": self.copy.summary()} if self.copy else {})}


GLOBAL_CLUSTER = "aurora-global-cluster"
BACKUP_REPLICATION = "automated-backup-replication"
AWS_BACKUP_COPY = "aws-backup-copy"
SNAPSHOT_COPY = "snapshot-in-backup-region"
READ_REPLICA = "cross-region-read-replica"

Found = tuple[bool, str] | tuple[bool, str, Copy]


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

    def follow_to_database(self, host: str, max_hops: int = 8) -> tuple[Database | None, list[str]]:
        """The database ``host`` leads to, following CNAME and alias records of the account's hosted
        zones (private and public), and the names followed. Names outside the zones end the trail."""
        trail = [normalise_dns(host)]
        frontier = [normalise_dns(host)]
        for _ in range(max_hops):
            following: list[str] = []
            for name in frontier:
                found = self.by_endpoint(name)
                if found is not None:
                    return found, trail
                following += [t for t in self._record_targets(name) if t not in trail and t not in following]
            if not following:
                break
            trail += following
            frontier = following
        return None, trail

    def _record_targets(self, name: str) -> list[str]:
        zones = self._aws.paginate("route53", ROUTE53_REGION, "ListHostedZones", "HostedZones",
                                   resource="route53 hosted zones")
        targets: list[str] = []
        for zone in most_specific_zones(name, [HostedZone.from_api(z) for z in zones or []]):
            records = self._aws.paginate("route53", ROUTE53_REGION, "ListResourceRecordSets", "ResourceRecordSets",
                                         resource=f"hosted zone {zone.name} ({zone.id})", HostedZoneId=zone.id)
            for record in (RecordSet.from_api(r) for r in records or []):
                if record.name == name and (record.type == "CNAME" or (record.alias and record.routes_traffic)):
                    targets += [t for t in record.targets if t not in targets]
        return targets

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
        """Each of DR-DB-04's five mechanisms, evaluated on its own: one unobservable mechanism does
        not hide another that holds."""
        checks: list[tuple[str, Callable[[], Found]]] = [
            (GLOBAL_CLUSTER, lambda: self._global_cluster(database)),
            (BACKUP_REPLICATION, lambda: self._backup_replication(database)),
            (AWS_BACKUP_COPY, lambda: self._aws_backup_copy(database, now, max_snapshot_age)),
            (SNAPSHOT_COPY, lambda: self._snapshot_copy(database, now, max_snapshot_age)),
            (READ_REPLICA, lambda: self._read_replica(database)),
        ]
        mechanisms = []
        for name, check in checks:
            try:
                found = check()
                mechanisms.append(Mechanism(name, found[0], found[1], copy=found[2] if len(found) == 3 else None))
            except Unobservable as error:
                mechanisms.append(Mechanism(name, None, str(error), error))
        return mechanisms

    def backup_clusters(self) -> list[Database]:
        found = self._aws.paginate("rds", self.backup, "DescribeDBClusters", "DBClusters",
                                   resource=f"DB clusters in {self.backup}")
        return [Database.from_cluster(c) for c in found or []]

    def backup_instances(self) -> list[Database]:
        found = self._aws.paginate("rds", self.backup, "DescribeDBInstances", "DBInstances",
                                   resource=f"DB instances in {self.backup}")
        return [Database.from_instance(i) for i in found or []]

    def _global_cluster(self, database: Database) -> Found:
        if database.kind != "cluster" or not database.is_aurora:
            return False, "only Aurora clusters join global clusters"
        entries = self._aws.paginate("rds", self.primary, "DescribeGlobalClusters", "GlobalClusters",
                                     resource=f"global clusters (member {database.identifier})")
        mine = global_clusters_with(database.arn, entries or [])
        if not mine:
            return False, f"{database.identifier} is not a member of any global cluster"
        reasons = []
        for glob in mine:
            members = glob.members_in(self.backup)
            if not members:
                continue
            if not glob.available:
                reasons.append(f"global cluster {glob.identifier} is {glob.status or 'of unknown status'}, "
                               f"not available")
                continue
            secondaries = {c.arn: c for c in self.backup_clusters()}
            for member in members:
                secondary = secondaries.get(member.cluster_arn)
                if secondary is None:
                    reasons.append(f"member {member.cluster_arn} is not a DB cluster in {self.backup}")
                elif secondary.status != "available":
                    reasons.append(f"member {secondary.identifier} in {self.backup} is {secondary.status}")
                else:
                    lag = LagMetric(("AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag"), "DBClusterIdentifier",
                                    secondary.identifier, 1000.0)
                    return True, (f"global cluster {glob.identifier} is available with member "
                                  f"{secondary.identifier} available in {self.backup}"), Copy(
                        "Aurora global secondary cluster", secondary.arn, self.backup, secondary.storage_key, lag=lag)
        if reasons:
            return False, "; ".join(reasons)
        regions = sorted({m.region or "?" for g in mine for m in g.members})
        return False, (f"global cluster {', '.join(g.identifier for g in mine)} has members only in "
                       f"{', '.join(regions)}")

    def _read_replica(self, database: Database) -> Found:
        """An RDS instance read replica, or an Aurora cluster replicating from this cluster, in the backup
        region (it names its source by ARN, being in another region)."""
        if database.kind == "cluster":
            replicas = [c for c in self.backup_clusters() if c.replication_source == database.arn]
            lag = ("AuroraBinlogReplicaLag", "DBClusterIdentifier")
        else:
            replicas = [i for i in self.backup_instances() if i.replication_source == database.arn]
            lag = ("ReplicaLag", "DBInstanceIdentifier")
        available = [r for r in replicas if r.status == "available"]
        if available:
            replica = available[0]
            return True, f"{replica.label} in {self.backup} replicates from {database.identifier} (available)", Copy(
                "cross-region read replica", replica.arn, self.backup, replica.storage_key,
                lag=LagMetric((lag[0],), lag[1], replica.identifier, 1.0))
        if replicas:
            return False, ", ".join(f"{r.label} in {self.backup} is {r.status}" for r in replicas)
        return False, f"no read replica of {database.identifier} in {self.backup}"

    def _backup_replication(self, database: Database) -> Found:
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
                    latest = (backup.get("RestoreWindow") or {}).get("LatestTime")
                    return True, f"automated backups replicate to {arn} (status {backup['Status']})", Copy(
                        "replicated automated backups", arn, self.backup, backup.get("KmsKeyId"), as_of=latest)
        return False, f"the replicated automated backups {', '.join(to_backup)} are not replicating"

    def _aws_backup_copy(self, database: Database, now: datetime, max_age: timedelta) -> Found:
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
            if not selected:
                reasons.append(why)
                continue
            for vault in vaults:
                # A plan is intent; the copy is a recovery point in a vault that exists.
                found = self._recovery_point_in(vault, database, now, max_age)
                if len(found) == 3:
                    return True, f"plan {plan.name or plan_id} selects {database.identifier} ({why}); {found[1]}", \
                        found[2]
                reasons.append(f"plan {plan.name or plan_id} selects {database.identifier} but {found[1]}")
        return False, "; ".join(reasons)

    def _recovery_point_in(self, vault_arn: str, database: Database, now: datetime, max_age: timedelta) -> Found:
        name = vault_name(vault_arn)
        vault = self._aws.call("backup", self.backup, "DescribeBackupVault", resource=vault_arn,
                               absent=("ResourceNotFoundException",),
                               BackupVaultName=name)
        if vault is None:
            return False, f"its copy vault {name} does not exist in {self.backup}"
        entries = self._aws.paginate("backup", self.backup, "ListRecoveryPointsByBackupVault", "RecoveryPoints",
                                     resource=vault_arn, BackupVaultName=name, ByResourceArn=database.arn)
        newest = newest_completed([RecoveryPoint.from_api(e) for e in entries or []], database.arn)
        if newest is None or newest.completed is None:
            return False, f"vault {name} in {self.backup} holds no COMPLETED recovery point of {database.identifier}"
        age = now - newest.completed
        if age > max_age:
            return False, (f"the newest recovery point of {database.identifier} in vault {name} is {_hours(age)} "
                           f"old (at most {_hours(max_age)})")
        return True, f"vault {name} in {self.backup} holds a COMPLETED recovery point {_hours(age)} old", Copy(
            "AWS Backup recovery point", newest.arn, self.backup, newest.encryption_key_arn, as_of=newest.completed)

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

    def _snapshot_copy(self, database: Database, now: datetime, max_age: timedelta) -> Found:
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
                          f"{_hours(fresh[0].age(now))} old (at most {_hours(max_age)})"), Copy(
                "snapshot", fresh[0].arn, self.backup, fresh[0].kms_key_id, as_of=fresh[0].created)
        mine = sorted((s for s in snapshots if s.of(database)), key=lambda s: s.created or now, reverse=True)
        if not mine:
            return False, f"no snapshot of {database.identifier} in {self.backup}"
        newest = mine[0]
        return False, (f"newest snapshot of {database.identifier} in {self.backup} is {newest.identifier} "
                       f"({newest.status}, {_hours(newest.age(now))} old; at most {_hours(max_age)} expected)")


@dataclass(frozen=True)
class RecoveryPointAge:
    """How old the backup region's copy is, as one mechanism measures it (None: not measured)."""

    mechanism: str
    seconds: float | None
    measured: str

    def summary(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "seconds": self.seconds, "measured": self.measured}


def lag_query(metric: str, lag: LagMetric) -> list[dict[str, Any]]:
    return [{"Id": "lag", "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/RDS", "MetricName": metric,
                   "Dimensions": [{"Name": lag.dimension, "Value": lag.value}]},
        "Period": 60, "Stat": "Maximum"}}]


def _metric_values(results: list[dict[str, Any]], resource: str) -> list[float]:
    mine = [r for r in results if r.get("Id") == "lag"]
    if not mine or any(r.get("StatusCode") not in ("Complete", "PartialData") for r in mine) \
            or mine[-1].get("StatusCode") != "Complete":
        codes = ", ".join(str(r.get("StatusCode")) for r in mine) or "no result"
        raise Unobservable("cloudwatch:GetMetricData", resource, f"the answer is not complete ({codes})")
    return [float(v) for r in mine for v in r.get("Values") or []]


def measure_copy(aws: AwsAccess, mechanism: Mechanism, now: datetime, window_end: datetime) -> RecoveryPointAge:
    """DR-DB-09: the age of the copy a holding mechanism found, measured as that mechanism allows."""
    copy = mechanism.copy
    if copy is None:
        return RecoveryPointAge(mechanism.name, None, "the mechanism names no copy")
    label = f"{copy.kind} {copy.arn.rsplit(':', 1)[-1]}"
    if copy.lag is None:
        if copy.as_of is None:
            return RecoveryPointAge(label, None, f"the {copy.kind} reports no time")
        age = (now - copy.as_of).total_seconds()
        return RecoveryPointAge(label, age, f"newest copy {_duration(age)} old")
    worst: tuple[float, str] | None = None
    missing = []
    for metric in copy.lag.names:
        resource = f"{metric} of {copy.lag.value} in {copy.region}"
        results = aws.paginate("cloudwatch", copy.region, "GetMetricData", "MetricDataResults", resource=resource,
                               MetricDataQueries=lag_query(metric, copy.lag), StartTime=window_end - timedelta(hours=1),
                               EndTime=window_end)
        values = _metric_values(results or [], resource)
        if not values:
            missing.append(metric)
            continue
        seconds = max(values) / copy.lag.per_second
        if worst is None or seconds > worst[0]:
            worst = (seconds, metric)
    if worst is None:
        return RecoveryPointAge(label, None, f"CloudWatch has no {' or '.join(missing)} datapoint for "
                                             f"{copy.lag.value} in the last hour")
    return RecoveryPointAge(label, worst[0], f"{worst[1]} {_duration(worst[0])}, max over the last hour")


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _hours(delta: timedelta | None) -> str:
    if delta is None:
        return "of unknown age"
    return f"{delta.total_seconds() / 3600:.1f} h"


# -- which database the installation uses --------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """The outcome of finding the installation's database: the RDS/Aurora database, or None for a
    self-managed one, and how that was decided (for the evidence and the N/A reason)."""

    database: Database | None
    basis: str


def locate_database(facts: DatabaseFacts, database_url: str | None, database_url_ref: str | None,
                    cluster_identifier: str | None, self_managed: bool = False) -> Located:
    """Find the database: ``database.self_managed`` says there is none on RDS; else DATABASE_URL's host
    (when its value is known) among the endpoints of the primary region's clusters and instances,
    following CNAME and alias records of the account's Route 53 zones; else ``database.cluster_identifier``.
    Raises Unobservable when none of these says which database it is: never a silent N/A."""
    if self_managed:
        return Located(None, "database.self_managed is true: the database is not RDS or Aurora")
    host = dsn_host(database_url) if database_url else None
    followed: list[str] = []
    if host:
        found, followed = facts.follow_to_database(host)
        if found is not None:
            if len(followed) == 1:
                return Located(found, f"DATABASE_URL's host {host} is an endpoint of {found.label}")
            return Located(found, f"DATABASE_URL's host {host} leads through the account's Route 53 records "
                                  f"({' → '.join(followed)}) to an endpoint of {found.label}")
    if cluster_identifier:
        found = facts.by_identifier(cluster_identifier)
        if found is None:
            raise Unobservable("rds:DescribeDBClusters", cluster_identifier,
                               f"database.cluster_identifier {cluster_identifier} names no DB cluster or "
                               f"instance in {facts.primary}")
        return Located(found, f"database.cluster_identifier is {cluster_identifier}")
    advice = ("give database.cluster_identifier, or set database.self_managed: true for a database that is not "
              "RDS or Aurora")
    if host:
        chain = " → ".join(followed)
        raise Unobservable("rds:DescribeDBClusters", host,
                           f"DATABASE_URL's host {host} leads to no RDS or Aurora endpoint in {facts.primary} "
                           f"(followed {chain} through the account's Route 53 zones); {advice}")
    if database_url_ref:
        reason = (f"DATABASE_URL is a secret reference ({database_url_ref}) whose value the suite does not read; "
                  f"{advice}, or DATABASE_URL under installation.settings")
    else:
        reason = f"DATABASE_URL is not set on any service; {advice}"
    raise Unobservable("spacelift:setting", "DATABASE_URL", reason)
