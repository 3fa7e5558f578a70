"""KMS facts: what a key is (multi-region role, state, spec, usage) and where its copies live.

A key ID as Spacelift settings hold it may be a key ARN, a bare key ID, an ``mrk-`` ID, an alias name
(``alias/…``) or an alias ARN; ``DescribeKey`` accepts all of them, so every key is resolved through it.
Copies of a multi-region key share its key ID, so the copy in another region is ``DescribeKey`` of that
ID in that region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..aws import AwsAccess
from ..config import Config
from ..errors import Unobservable
from ..installation import Installation
from .s3 import arn_region

ENABLED = "Enabled"
REQUIRED_METADATA = ("KeyId", "Arn", "KeyState", "KeyUsage")
# Key states in which nothing can be decrypted with the key, however briefly (AWS KMS key states).
UNUSABLE_STATES = frozenset({"Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport",
                             "Unavailable", "Creating", "Updating"})


@dataclass(frozen=True)
class KeyMetadata:
    """The fields of ``DescribeKey``'s ``KeyMetadata`` that DR decisions rest on."""

    key_id: str
    arn: str
    key_state: str
    key_spec: str
    key_usage: str
    key_manager: str  # CUSTOMER, or AWS for AWS-managed keys (aws/s3, aws/rds), which are never multi-region
    multi_region: bool
    multi_region_key_type: str | None  # PRIMARY, REPLICA, or None for a single-region key
    primary_arn: str | None
    replica_arns: tuple[str, ...]

    @classmethod
    def from_api(cls, metadata: dict[str, Any]) -> KeyMetadata:
        configuration = metadata.get("MultiRegionConfiguration") or {}
        primary = configuration.get("PrimaryKey") or {}
        return cls(
            key_id=str(metadata.get("KeyId", "")),
            arn=str(metadata.get("Arn", "")),
            key_state=str(metadata.get("KeyState", "unknown")),
            # CustomerMasterKeySpec is the deprecated name of KeySpec; older answers carry only it.
            key_spec=str(metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec") or "unknown"),
            key_usage=str(metadata.get("KeyUsage", "unknown")),
            key_manager=str(metadata.get("KeyManager", "unknown")),
            multi_region=metadata.get("MultiRegion") is True,
            multi_region_key_type=configuration.get("MultiRegionKeyType"),
            primary_arn=primary.get("Arn"),
            replica_arns=tuple(str(r.get("Arn", "")) for r in configuration.get("ReplicaKeys") or []),
        )

    @property
    def region(self) -> str | None:
        return arn_region(self.arn)

    @property
    def enabled(self) -> bool:
        """The key can be used: ``KeyState`` is ``Enabled`` (not Disabled, pending deletion or import)."""
        return self.key_state == ENABLED

    @property
    def is_primary(self) -> bool:
        return self.multi_region and self.multi_region_key_type == "PRIMARY"

    @property
    def primary_region(self) -> str | None:
        return arn_region(self.primary_arn)

    @property
    def is_replica_of_other_region(self) -> bool:
        """A replica whose primary key lives in another region (the set-up after a failover)."""
        return (self.multi_region and self.multi_region_key_type == "REPLICA"
                and self.primary_region is not None and self.primary_region != self.region)

    @property
    def is_usable_multi_region(self) -> bool:
        """DR-KMS-02's shape: multi-region, and the primary or a replica of a primary elsewhere."""
        return self.is_primary or self.is_replica_of_other_region

    @property
    def related_arns(self) -> tuple[str, ...]:
        """The ARNs of every copy of this multi-region key (primary and replicas), this one included."""
        arns = [self.primary_arn, *self.replica_arns, self.arn] if self.multi_region else [self.arn]
        return tuple(dict.fromkeys(a for a in arns if a))

    @property
    def is_symmetric_encryption_key(self) -> bool:
        return self.key_spec == "SYMMETRIC_DEFAULT" and self.key_usage == "ENCRYPT_DECRYPT"

    @property
    def rotation_applies(self) -> bool:
        """Automatic rotation exists only for symmetric customer keys, and is set on the primary copy."""
        return (self.is_symmetric_encryption_key and self.key_manager == "CUSTOMER"
                and (not self.multi_region or self.is_primary))

    def summary(self) -> dict[str, Any]:
        return {
            "Arn": self.arn,
            "KeyState": self.key_state,
            "KeySpec": self.key_spec,
            "KeyUsage": self.key_usage,
            "KeyManager": self.key_manager,
            "MultiRegion": self.multi_region,
            "MultiRegionKeyType": self.multi_region_key_type,
            "PrimaryKey": self.primary_arn,
            "ReplicaKeys": list(self.replica_arns),
        }


class Key:
    """A KMS key as a setting names it, resolved with read-only calls made once per run.

    >>> key.metadata.is_usable_multi_region
    >>> key.copy_in("eu-central-1").enabled
    """

    def __init__(self, key_id: str, aws: AwsAccess, home_region: str, facts: KmsFacts) -> None:
        self.key_id = key_id
        self._aws = aws
        # An ARN names its own region; every other form is resolved where the services run.
        self.region = arn_region(key_id) or home_region
        self._facts = facts

    def __repr__(self) -> str:
        return f"Key({self.key_id!r})"

    @property
    def metadata(self) -> KeyMetadata:
        """``DescribeKey``; a key that does not exist (or an alias without a key) is unobservable.

        Not cached here: the run's cache answers repeats, and each check then records the read it rests on.
        """
        found = self._facts.describe(self.key_id, self.region)
        if found is None:
            raise Unobservable("kms:DescribeKey", self.key_id,
                               f"NotFoundException: no key {self.key_id} in {self.region}")
        return found

    @property
    def arn(self) -> str:
        return self.metadata.arn

    def copy_in(self, region: str) -> KeyMetadata | None:
        """The copy of this key in ``region`` (same key ID), or None if it has none there.

        A single-region key has no copies; for a multi-region key the region is asked directly rather
        than trusting the primary's replica list, so a replica's own state is what is reported.
        """
        metadata = self.metadata
        if metadata.region == region:
            return metadata
        if not metadata.multi_region:
            return None
        return self._facts.describe(metadata.key_id, region)

    def copies(self) -> list[KeyMetadata]:
        """Every copy of the key the primary knows of (primary and replicas), each read in its region."""
        found = []
        for arn in self.metadata.related_arns:
            region = arn_region(arn)
            copy = self.metadata if arn == self.metadata.arn else (
                self._facts.describe(self.metadata.key_id, region) if region else None)
            if copy is None:
                raise Unobservable("kms:DescribeKey", arn,
                                   "NotFoundException: the key's multi-region configuration lists this copy "
                                   "but its region does not know it")
            found.append(copy)
        return found

    def problem_in(self, region: str) -> str | None:
        """Why data under this key could not be decrypted in ``region``; None when an Enabled copy is there."""
        metadata = self.metadata
        if not metadata.multi_region:
            managed = " (an AWS-managed key, which cannot be multi-region)" if metadata.key_manager == "AWS" else ""
            return f"{metadata.arn} is a single-region key{managed}: it cannot have a copy in {region}"
        copy = self.copy_in(region)
        if copy is None:
            return f"{metadata.arn} has no replica in {region}"
        if not copy.enabled:
            return f"its copy {copy.arn} in {region} is {copy.key_state}"
        return None

    @property
    def rotation_enabled(self) -> bool | None:
        """Automatic rotation of the primary copy; None where rotation does not apply (asymmetric keys).

        Replicas share their primary's rotation, so only the primary is asked (moto reports replicas
        wrongly).
        """
        metadata = self.metadata
        if not metadata.rotation_applies:
            return None
        response = self._aws.call("kms", metadata.region or self.region, "GetKeyRotationStatus",
                                  resource=metadata.arn, KeyId=metadata.key_id)
        assert response is not None
        return response.get("KeyRotationEnabled") is True


class KmsFacts:
    """One :class:`Key` per key ID per run; every ``DescribeKey`` goes through the run's cache."""

    def __init__(self, aws: AwsAccess, home_region: str) -> None:
        self._aws = aws
        self._home = home_region
        self._keys: dict[str, Key] = {}

    def key(self, key_id: str) -> Key:
        if key_id not in self._keys:
            self._keys[key_id] = Key(key_id, self._aws, self._home, self)
        return self._keys[key_id]

    def describe(self, key_id: str, region: str) -> KeyMetadata | None:
        """``DescribeKey`` in ``region``; None when the region has no such key (NotFoundException)."""
        response = self._aws.call("kms", region, "DescribeKey", resource=key_id, absent=("NotFoundException",),
                                  KeyId=key_id)
        if response is None:
            return None
        metadata = response.get("KeyMetadata") or {}
        # AWS always sends these; an answer without them is not understood, and decides nothing.
        missing = [name for name in REQUIRED_METADATA if not metadata.get(name)]
        if missing:
            raise Unobservable("kms:DescribeKey", key_id, f"the answer lacks {', '.join(missing)}")
        return KeyMetadata.from_api(metadata)

    def replica_key_problem(self, key_id: str, backup: str) -> str | None:
        """Why a replication rule's ReplicaKmsKeyID could not decrypt in ``backup``; None when it can."""
        region = arn_region(key_id)
        if region is not None and region != backup:
            return f"{key_id} is in {region}, not in {backup}"
        found = self.describe(key_id, backup)
        if found is None:
            return f"{key_id} does not exist in {backup}"
        return None if found.enabled else f"{found.arn} is {found.key_state}"


MODES = ("kms", "rsa")
MODE_SETTING = "ENCRYPTION_TYPE"
DEFAULT_MODE = "kms"  # the official modules' default, and Spacelift's when the setting is absent


@dataclass(frozen=True)
class EncryptionModes:
    """``ENCRYPTION_TYPE`` as each service sees it (``kms`` where it is not set)."""

    per_service: dict[str, str]
    unset: tuple[str, ...] = ()

    @classmethod
    def from_installation(cls, installation: Installation) -> EncryptionModes:
        settings = installation.settings_per_service(MODE_SETTING)
        if not settings:
            raise Unobservable("spacelift:setting", MODE_SETTING, "no service settings were found (see DR-SVC-01)")
        per_service: dict[str, str] = {}
        for role, setting in settings.items():
            # A secret reference's value is unknown: value() raises, and the mode is unobservable.
            value = installation.value(MODE_SETTING, role) if setting is not None else None
            per_service[role] = DEFAULT_MODE if value is None else value
        return cls(per_service, tuple(role for role, s in settings.items() if s is None))

    @property
    def modes(self) -> set[str]:
        return set(self.per_service.values())

    @property
    def invalid(self) -> dict[str, str]:
        return {role: mode for role, mode in self.per_service.items() if mode not in MODES}

    @property
    def consistent(self) -> bool:
        return len(self.modes) == 1

    def uses(self, mode: str) -> bool:
        """Some service runs ``mode``: its keys must then be sound, whatever the other services say.

        An unknown value counts as ``kms`` (the default) so that no key check is skipped because of a typo.
        """
        if mode == DEFAULT_MODE:
            return any(m not in MODES or m == mode for m in self.modes)
        return mode in self.modes

    def summary(self) -> dict[str, Any]:
        return {role: mode + (" (not set: default)" if role in self.unset else "")
                for role, mode in self.per_service.items()}


@dataclass(frozen=True)
class DatabaseStorage:
    """The KMS key of the database's storage, from ``DescribeDBClusters`` (or ``DescribeDBInstances``)."""

    identifier: str
    arn: str
    storage_encrypted: bool
    kms_key_id: str | None
    found_by: str = field(default="", compare=False)

    @classmethod
    def from_cluster(cls, cluster: dict[str, Any], found_by: str) -> DatabaseStorage:
        return cls(str(cluster.get("DBClusterIdentifier", "")), str(cluster.get("DBClusterArn", "")),
                   cluster.get("StorageEncrypted") is True, cluster.get("KmsKeyId"), found_by)

    @classmethod
    def from_instance(cls, instance: dict[str, Any], found_by: str) -> DatabaseStorage:
        return cls(str(instance.get("DBInstanceIdentifier", "")), str(instance.get("DBInstanceArn", "")),
                   instance.get("StorageEncrypted") is True, instance.get("KmsKeyId"), found_by)

    def summary(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "StorageEncrypted": self.storage_encrypted,
                "KmsKeyId": self.kms_key_id, "found_by": self.found_by}


def cluster_endpoints(cluster: dict[str, Any]) -> set[str]:
    names = {cluster.get("Endpoint"), cluster.get("ReaderEndpoint"), *(cluster.get("CustomEndpoints") or [])}
    return {str(n).lower() for n in names if n}


def database_host(url: str) -> str | None:
    """The host of a DSN (``postgres://user:pw@host:5432/db``); only the host is ever kept."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def find_database_storage(aws: AwsAccess, config: Config, installation: Installation) -> DatabaseStorage | None:
    """The database as the database checks find it: ``database.cluster_identifier``, else the cluster (or
    instance) whose endpoint is the host of a plain ``DATABASE_URL``. None: that host is no RDS endpoint
    (a self-managed database). Unresolvable: Unobservable saying what to configure."""
    region = installation.primary_region
    identifier = config.database.cluster_identifier
    if identifier:
        # As the database checks find it (the same reads): the cluster, else the stand-alone instance, of
        # that identifier (RDS identifiers are case-insensitive); a cluster member stands for its cluster.
        wanted = identifier.lower()
        listed: list[Any] = aws.paginate("rds", region, "DescribeDBClusters", "DBClusters",
                                         resource=f"DB clusters in {region}") or []
        for cluster in listed:
            if str(cluster.get("DBClusterIdentifier", "")).lower() == wanted:
                return DatabaseStorage.from_cluster(cluster, "database.cluster_identifier")
        members: list[Any] = aws.paginate("rds", region, "DescribeDBInstances", "DBInstances",
                                          resource=f"DB instances in {region}") or []
        for instance in members:
            if str(instance.get("DBInstanceIdentifier", "")).lower() != wanted:
                continue
            owner = str(instance.get("DBClusterIdentifier") or "").lower()
            for cluster in listed:
                if owner and str(cluster.get("DBClusterIdentifier", "")).lower() == owner:
                    return DatabaseStorage.from_cluster(cluster, "database.cluster_identifier")
            return DatabaseStorage.from_instance(instance, "database.cluster_identifier")
        raise Unobservable("rds:DescribeDBClusters", identifier,
                           f"no DB cluster or instance {identifier} in {region} (database.cluster_identifier)")
    setting = installation.setting("DATABASE_URL")
    if setting is None or setting.secret_ref is not None or not setting.value:
        how = ("reaches the services as a secret reference, whose value the suite does not read"
               if setting is not None and setting.secret_ref else "is not set as a plain value")
        error = Unobservable("spacelift:setting", "DATABASE_URL", "the database cannot be found")
        error.args = (f"the database cannot be found: DATABASE_URL {how}; set database.cluster_identifier "
                      f"in the config",)
        raise error
    host = database_host(setting.value)
    if host is None:
        raise Unobservable("spacelift:setting", "DATABASE_URL", "DATABASE_URL has no host")
    clusters = aws.paginate("rds", region, "DescribeDBClusters", "DBClusters", resource=f"clusters in {region}")
    for cluster in clusters or []:
        if host in cluster_endpoints(cluster):
            return DatabaseStorage.from_cluster(cluster, "DATABASE_URL host")
    instances = aws.paginate("rds", region, "DescribeDBInstances", "DBInstances", resource=f"instances in {region}")
    for instance in instances or []:
        if host == str((instance.get("Endpoint") or {}).get("Address", "")).lower():
            return DatabaseStorage.from_instance(instance, "DATABASE_URL host")
    return None
