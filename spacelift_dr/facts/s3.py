"""S3 facts: a bucket's existence, region, versioning, default encryption and replication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import AwsAccess
from ..errors import Unobservable


def arn_region(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:aws:kms:eu-west-1:…`` → ``eu-west-1``), None if absent."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    return parts[3] or None


def bucket_name_from_arn(arn: str) -> str:
    """``arn:aws:s3:::name`` → ``name`` (a bare name is returned unchanged)."""
    return arn.split(":::", 1)[1] if arn.startswith("arn:") and ":::" in arn else arn


def location_region(location_constraint: str | None) -> str:
    """GetBucketLocation's answer as a region: empty means us-east-1, the legacy ``EU`` eu-west-1."""
    if not location_constraint:
        return "us-east-1"
    return "eu-west-1" if location_constraint == "EU" else location_constraint


@dataclass(frozen=True)
class Versioning:
    """``GetBucketVersioning``: ``status`` is Enabled, Suspended or None (never enabled)."""

    status: str | None
    mfa_delete: str | None  # Enabled, Disabled, or None when the response omits it

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> Versioning:
        return cls(status=response.get("Status"), mfa_delete=response.get("MFADelete"))

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"

    @property
    def mfa_delete_enabled(self) -> bool:
        return self.mfa_delete == "Enabled"

    def summary(self) -> dict[str, Any]:
        return {"Status": self.status or "never enabled", "MFADelete": self.mfa_delete or "not reported"}


@dataclass(frozen=True)
class DefaultEncryption:
    """The bucket's default encryption rule (``GetBucketEncryption``)."""

    algorithm: str | None  # AES256, aws:kms, aws:kms:dsse, or None when the bucket has none
    kms_key_id: str | None

    @classmethod
    def from_api(cls, response: dict[str, Any] | None) -> DefaultEncryption:
        rules = ((response or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
        for rule in rules:
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if default.get("SSEAlgorithm"):
                return cls(default["SSEAlgorithm"], default.get("KMSMasterKeyID"))
        return cls(None, None)

    @property
    def uses_kms(self) -> bool:
        return bool(self.algorithm and self.algorithm.startswith("aws:kms"))

    def summary(self) -> dict[str, Any]:
        return {"SSEAlgorithm": self.algorithm or "none", "KMSMasterKeyID": self.kms_key_id}


def _enabled(value: Any) -> str | None:
    return value.get("Status") if isinstance(value, dict) else None


@dataclass(frozen=True)
class ReplicationRule:
    """One rule of a replication configuration, as S3 returns it."""

    id: str
    status: str
    priority: int | None
    prefix: str  # "" when no prefix filter
    tags: tuple[tuple[str, str], ...]
    has_filter_element: bool
    destination_bucket: str
    destination_account: str | None
    delete_marker_replication: str | None  # Enabled, Disabled, or None when absent
    sse_kms_encrypted_objects: str | None  # SourceSelectionCriteria.SseKmsEncryptedObjects.Status
    replica_kms_key_id: str | None

    @classmethod
    def from_api(cls, rule: dict[str, Any]) -> ReplicationRule:
        prefix = rule.get("Prefix") or ""
        tags: list[tuple[str, str]] = []
        has_filter = "Filter" in rule
        rule_filter = rule.get("Filter") or {}
        if "Prefix" in rule_filter:
            prefix = rule_filter.get("Prefix") or ""
        if "Tag" in rule_filter:
            tags.append((rule_filter["Tag"].get("Key", ""), rule_filter["Tag"].get("Value", "")))
        conjunction = rule_filter.get("And") or {}
        if conjunction:
            prefix = conjunction.get("Prefix") or prefix
            tags.extend((t.get("Key", ""), t.get("Value", "")) for t in conjunction.get("Tags", []))
        destination = rule.get("Destination") or {}
        criteria = rule.get("SourceSelectionCriteria") or {}
        return cls(
            id=rule.get("ID", ""),
            status=rule.get("Status", ""),
            priority=rule.get("Priority"),
            prefix=prefix,
            tags=tuple(tags),
            has_filter_element=has_filter,
            destination_bucket=bucket_name_from_arn(destination.get("Bucket", "")),
            destination_account=destination.get("Account"),
            delete_marker_replication=_enabled(rule.get("DeleteMarkerReplication")),
            sse_kms_encrypted_objects=_enabled(criteria.get("SseKmsEncryptedObjects")),
            replica_kms_key_id=(destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
        )

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"

    @property
    def covers_all_objects(self) -> bool:
        """No prefix and no tag filter: every object of the bucket is replicated."""
        return self.prefix == "" and not self.tags

    @property
    def replicates_delete_markers(self) -> bool:
        return self.delete_marker_replication == "Enabled"

    @property
    def replicates_sse_kms_objects(self) -> bool:
        return self.sse_kms_encrypted_objects == "Enabled"

    @property
    def replica_kms_key_region(self) -> str | None:
        return arn_region(self.replica_kms_key_id)

    def summary(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Status": self.status,
            "Filter": {"Prefix": self.prefix, "Tags": [f"{k}={v}" for k, v in self.tags]},
            "DestinationBucket": self.destination_bucket,
            "DeleteMarkerReplication": self.delete_marker_replication or "not set",
            "SseKmsEncryptedObjects": self.sse_kms_encrypted_objects or "not set",
            "ReplicaKmsKeyID": self.replica_kms_key_id,
        }


@dataclass(frozen=True)
class ReplicationConfiguration:
    """``GetBucketReplication``; a bucket without one has an empty configuration (``exists`` False)."""

    exists: bool
    role: str | None
    rules: tuple[ReplicationRule, ...]

    @classmethod
    def from_api(cls, response: dict[str, Any] | None) -> ReplicationConfiguration:
        if response is None:
            return cls(False, None, ())
        configuration = response.get("ReplicationConfiguration") or {}
        return cls(True, configuration.get("Role"),
                   tuple(ReplicationRule.from_api(r) for r in configuration.get("Rules", [])))

    def enabled_rules_covering_all_objects(self) -> list[ReplicationRule]:
        return [r for r in self.rules if r.enabled and r.covers_all_objects]

    def enabled_rules_to(self, bucket: str) -> list[ReplicationRule]:
        return [r for r in self.rules if r.enabled and r.destination_bucket == bucket]


@dataclass(frozen=True)
class Replica:
    """A destination of an enabled rule that covers all objects, with where that bucket lives."""

    rule: ReplicationRule
    bucket: Bucket

    def summary(self) -> dict[str, Any]:
        return {**self.rule.summary(), "DestinationRegion": self.bucket.region_or_none}


class Bucket:
    """A bucket seen through read-only S3 calls, each made once per run (the run cache answers repeats,
    so every check that relies on a read still records it as evidence).

    >>> bucket.versioning.enabled
    >>> [r.bucket.region for r in bucket.replicas()]
    """

    def __init__(self, name: str, aws: AwsAccess, home_region: str, facts: BucketFacts) -> None:
        self.name = name
        self._aws = aws
        self._home = home_region
        self._facts = facts

    def __repr__(self) -> str:
        return f"Bucket({self.name!r})"

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"

    @property
    def exists(self) -> bool:
        """HeadBucket answers: True; 404: False; denied or unreachable: Unobservable (never False)."""
        response = self._aws.call("s3", self._home, "HeadBucket", resource=self.name,
                                  absent=("404", "NoSuchBucket", "NotFound"), Bucket=self.name)
        return response is not None

    @property
    def region_or_none(self) -> str | None:
        """The bucket's region, or None when the bucket does not exist."""
        response = self._aws.call("s3", self._home, "GetBucketLocation", resource=self.name,
                                  absent=("NoSuchBucket",), Bucket=self.name)
        return None if response is None else location_region(response.get("LocationConstraint"))

    @property
    def region(self) -> str:
        region = self.region_or_none
        if region is None:
            raise Unobservable("s3:GetBucketLocation", self.name, "NoSuchBucket: the bucket does not exist")
        return region

    def _in_own_region(self) -> str:
        # Bucket-level reads go to the bucket's region endpoint, as the real S3 prefers.
        return self.region_or_none or self._home

    @property
    def versioning(self) -> Versioning:
        response = self._aws.call("s3", self._in_own_region(), "GetBucketVersioning", resource=self.name,
                                  Bucket=self.name)
        assert response is not None
        return Versioning.from_api(response)

    @property
    def default_encryption(self) -> DefaultEncryption:
        response = self._aws.call("s3", self._in_own_region(), "GetBucketEncryption", resource=self.name,
                                  absent=("ServerSideEncryptionConfigurationNotFoundError",),
                                  Bucket=self.name)
        return DefaultEncryption.from_api(response)

    @property
    def replication(self) -> ReplicationConfiguration:
        response = self._aws.call("s3", self._in_own_region(), "GetBucketReplication", resource=self.name,
                                  absent=("ReplicationConfigurationNotFoundError",), Bucket=self.name)
        return ReplicationConfiguration.from_api(response)

    def replicas(self) -> list[Replica]:
        """Destinations of the enabled rules that cover every object."""
        return [Replica(rule, self._facts.bucket(rule.destination_bucket))
                for rule in self.replication.enabled_rules_covering_all_objects()]

    def replicas_in(self, region: str) -> list[Replica]:
        return [replica for replica in self.replicas() if replica.bucket.region_or_none == region]


class BucketFacts:
    """One :class:`Bucket` per name per run, so each read is made once."""

    def __init__(self, aws: AwsAccess, home_region: str) -> None:
        self._aws = aws
        self._home = home_region
        self._buckets: dict[str, Bucket] = {}

    def bucket(self, name: str) -> Bucket:
        if name not in self._buckets:
            self._buckets[name] = Bucket(name, self._aws, self._home, self)
        return self._buckets[name]
