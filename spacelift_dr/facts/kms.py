"""KMS facts: what a key is (multi-region role, state, spec, usage) and where its copies live.

A key ID as Spacelift settings hold it may be a key ARN, a bare key ID, an ``mrk-`` ID, an alias name
(``alias/…``) or an alias ARN; ``DescribeKey`` accepts all of them, so every key is resolved through it.
Copies of a multi-region key share its key ID, so the copy in another region is ``DescribeKey`` of that
ID in that region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from ..aws import AwsAccess
from ..errors import Unobservable
from ..installation import Installation
from .s3 import arn_region

T = TypeVar("T")

ENABLED = "Enabled"
# Without these the answer names no key: nothing can be decided. Any other field missing fails only the
# decisions that need it (a partial answer gives partial verdicts).
REQUIRED_METADATA = ("KeyId", "Arn")
# Key states in which nothing can be decrypted with the key, however briefly (AWS KMS key states).
UNUSABLE_STATES = frozenset({"Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport",
                             "Unavailable", "Creating", "Updating"})


@dataclass(frozen=True)
class KeyMetadata:
    """The fields of ``DescribeKey``'s ``KeyMetadata`` that DR decisions rest on."""

    key_id: str
    arn: str
    # None: the answer lacked the field; reading it then raises Unobservable naming it (see _field).
    answered_state: str | None
    answered_spec: str | None
    answered_usage: str | None
    key_manager: str  # CUSTOMER, or AWS for AWS-managed keys (aws/s3, aws/rds), which are never multi-region
    answered_multi_region: bool | None
    multi_region_key_type: str | None  # PRIMARY, REPLICA, or None for a single-region key
    primary_arn: str | None
    replica_arns: tuple[str, ...]

    @classmethod
    def from_api(cls, metadata: dict[str, Any]) -> KeyMetadata:
        configuration = metadata.get("MultiRegionConfiguration") or {}
        primary = configuration.get("PrimaryKey") or {}

        def text(name: str) -> str | None:
            value = metadata.get(name)
            return str(value) if value else None

        multi_region = metadata.get("MultiRegion")
        return cls(
            key_id=str(metadata.get("KeyId", "")),
            arn=str(metadata.get("Arn", "")),
            answered_state=text("KeyState"),
            # CustomerMasterKeySpec is the deprecated name of KeySpec; older answers carry only it.
            answered_spec=text("KeySpec") or text("CustomerMasterKeySpec"),
            answered_usage=text("KeyUsage"),
            key_manager=str(metadata.get("KeyManager", "unknown")),
            # moto leaves MultiRegion out of a regional key's answer; absent means regional (False).
            answered_multi_region=multi_region if isinstance(multi_region, bool) else False,
            multi_region_key_type=configuration.get("MultiRegionKeyType"),
            primary_arn=primary.get("Arn"),
            replica_arns=tuple(str(r.get("Arn", "")) for r in configuration.get("ReplicaKeys") or []),
        )

    def _field(self, name: str, value: T | None) -> T:
        if value is None:
            raise Unobservable("kms:DescribeKey", self.arn, f"the answer lacks {name}, which this decision needs")
        return value

    @property
    def key_state(self) -> str:
        return self._field("KeyState", self.answered_state)

    @property
    def key_spec(self) -> str:
        return self._field("KeySpec", self.answered_spec)

    @property
    def key_usage(self) -> str:
        return self._field("KeyUsage", self.answered_usage)

    @property
    def multi_region(self) -> bool:
        return self._field("MultiRegion", self.answered_multi_region)

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
            "KeyState": self.answered_state,
            "KeySpec": self.answered_spec,
            "KeyUsage": self.answered_usage,
            "KeyManager": self.key_manager,
            "MultiRegion": self.answered_multi_region,
            "MultiRegionKeyType": self.multi_region_key_type,
            "PrimaryKey": self.primary_arn,
            "ReplicaKeys": list(self.replica_arns),
        }


def alias_name(key_id: str) -> str | None:
    """``alias/x`` for an alias name or alias ARN (``arn:aws:kms:eu-west-1:123456789012:alias/x``); None
    for key IDs and key ARNs."""
    if key_id.startswith("alias/"):
        return key_id
    if key_id.startswith("arn:") and ":alias/" in key_id:
        return "alias/" + key_id.split(":alias/", 1)[1]
    return None


@dataclass(frozen=True)
class SettingResolution:
    """What a key setting resolves to in one region: its form, the key the alias targets there, and why
    it would not work there (``problem``) or what the deployment there must change (``note``)."""

    form: str  # alias | key ARN | key ID
    target_arn: str | None
    problem: str | None = None
    note: str | None = None

    def summary(self) -> dict[str, Any]:
        return {"form": self.form, "alias_targets": self.target_arn, "problem": self.problem, "note": self.note}


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

    def setting_in(self, region: str) -> SettingResolution:
        """How the setting's value resolves in ``region`` for replacement services started there.

        An alias must exist in ``region`` and target the copy of this key there: aliases are regional and
        never replicate with a multi-region key. A key ARN names one region: the backup deployment must
        change it (noted, not a failure: the replica's ARN is known). A bare key ID resolves everywhere.
        """
        alias = alias_name(self.key_id)
        if alias is None:
            arn_home = arn_region(self.key_id)
            if arn_home is not None and arn_home != region:
                copy = self.copy_in(region)
                return SettingResolution("key ARN", None, note=(
                    f"the setting is a key ARN in {arn_home}: the backup deployment must set it to "
                    f"{copy.arn if copy else 'the key copy in ' + region}"))
            return SettingResolution("key ARN" if arn_home else "key ID", None)
        target = self._facts.describe(alias, region)
        if target is None:
            return SettingResolution("alias", None, problem=(
                f"alias {alias} does not exist in {region} (aliases are regional and never replicate with the "
                f"key)"))
        if target.key_id != self.metadata.key_id or target.region != region:
            return SettingResolution("alias", target.arn, problem=(
                f"alias {alias} in {region} targets {target.arn}, not the copy of {self.metadata.arn}"))
        return SettingResolution("alias", target.arn)

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
