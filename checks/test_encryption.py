"""Encryption (DR guide, "Encryption"): one mode everywhere; in KMS mode, multi-region keys replicated and
enabled in the backup region; stateful data under keys the backup region has; in RSA mode, a sound key
that is escrowed outside the primary region and kept out of plain text.
"""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.config import Policy
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.kms import MODES, DatabaseStorage, EncryptionModes, Key, KmsFacts
from spacelift_dr.facts.rsa import RSA_SETTING, RsaKeyInspection, RsaKeys
from spacelift_dr.facts.s3 import Bucket
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence, NotApplicable

SIGNING_SPEC = ("SIGN_VERIFY", "RSA_4096")


@requirement("DR-KMS-01")
def test_one_encryption_mode_everywhere(encryption_modes: EncryptionModes, evidence: Evidence) -> None:
    evidence.about("ENCRYPTION_TYPE")
    evidence.observed(ENCRYPTION_TYPE=encryption_modes.summary())
    invalid = encryption_modes.invalid
    assert not invalid, (f"ENCRYPTION_TYPE is {', '.join(f'{v!r} on {r}' for r, v in invalid.items())}, "
                         f"expected one of {', '.join(MODES)}")
    assert encryption_modes.consistent, (
        "ENCRYPTION_TYPE differs between services ("
        + ", ".join(f"{role}: {mode}" for role, mode in encryption_modes.per_service.items())
        + "), expected the same value on server, drain and scheduler")
    evidence.message = f"ENCRYPTION_TYPE is {encryption_modes.modes.pop()} on {', '.join(encryption_modes.per_service)}"


@requirement("DR-KMS-02")
def test_encryption_key_is_multi_region(encryption_key: Key, evidence: Evidence) -> None:
    key = encryption_key.metadata
    evidence.observed(key=key.summary(), rotation=_rotation(encryption_key))
    assert key.is_symmetric_encryption_key, (
        f"{key.arn} is a {key.key_spec} {key.key_usage} key, expected SYMMETRIC_DEFAULT ENCRYPT_DECRYPT")
    assert key.is_usable_multi_region, (
        f"{key.arn} has MultiRegion {key.multi_region}"
        + (f" and is a {key.multi_region_key_type} whose primary is in {key.primary_region}" if key.multi_region
           else "") + ", expected a multi-region PRIMARY key (or a replica of a primary in another region)")
    evidence.message = f"{key.arn} is a multi-region {key.multi_region_key_type} key"


@requirement("DR-KMS-03")
def test_encryption_key_has_enabled_replica_in_backup_region(encryption_key: Key, installation: Installation,
                                                            evidence: Evidence) -> None:
    backup = installation.backup_region
    key = encryption_key.metadata
    copy = encryption_key.copy_in(backup)
    evidence.observed(key=key.summary(), copy_in_backup_region=copy.summary() if copy else None)
    problem = encryption_key.problem_in(backup)
    assert problem is None, f"{problem}, expected an Enabled replica (same key ID) in {backup}"
    evidence.message = f"{copy.arn if copy else key.arn} is Enabled in {backup}"


@requirement("DR-KMS-04")
def test_spacelift_key_and_replicas_are_enabled(spacelift_key: Key, evidence: Evidence) -> None:
    copies = spacelift_key.copies()
    evidence.observed(key_states={copy.arn: copy.key_state for copy in copies})
    unusable = [copy for copy in copies if not copy.enabled]
    assert not unusable, ", ".join(f"{c.arn} is {c.key_state}" for c in unusable) + ", expected Enabled"
    evidence.message = f"{len(copies)} cop{'y' if len(copies) == 1 else 'ies'} of the key, all Enabled"


@requirement("DR-KMS-05")
def test_signing_key_is_usable_in_backup_region(signing_key: Key, installation: Installation,
                                                evidence: Evidence) -> None:
    backup = installation.backup_region
    key = signing_key.metadata
    copy = signing_key.copy_in(backup)
    evidence.observed(key=key.summary(), copy_in_backup_region=copy.summary() if copy else None)
    assert (key.key_usage, key.key_spec) == SIGNING_SPEC, (
        f"{key.arn} is a {key.key_spec} {key.key_usage} key, expected {SIGNING_SPEC[1]} {SIGNING_SPEC[0]}")
    problem = signing_key.problem_in(backup)
    assert problem is None, f"{problem}, expected a multi-region key with an Enabled replica in {backup}"
    evidence.message = f"{key.arn} is multi-region with an Enabled copy in {backup}"


@requirement("DR-KMS-06")
def test_database_storage_key_is_in_backup_region(database_storage: DatabaseStorage, kms_facts: KmsFacts,
                                                  installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    evidence.observed(database=database_storage.summary())
    if not database_storage.storage_encrypted or not database_storage.kms_key_id:
        raise NotApplicable(f"{database_storage.identifier} has no KMS key on its storage (StorageEncrypted "
                            f"{database_storage.storage_encrypted}; see DR-DB-05)")
    key = kms_facts.key(database_storage.kms_key_id)
    evidence.observed(key=key.metadata.summary())
    problem = key.problem_in(backup)
    assert problem is None, (f"{database_storage.identifier} storage key: {problem}, expected a multi-region key "
                             f"with an Enabled replica in {backup}")
    evidence.message = f"{database_storage.identifier} is encrypted with {key.arn}, Enabled in {backup} too"


@requirement("DR-KMS-06")
def test_critical_bucket_key_is_in_backup_region(critical_bucket: Bucket, kms_facts: KmsFacts,
                                                 installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    encryption = critical_bucket.default_encryption
    rules = [replica.rule for replica in critical_bucket.replicas_in(backup)]
    replica_keys = sorted({r.replica_kms_key_id for r in rules if r.replica_kms_key_id})
    evidence.observed(default_encryption=encryption.summary(), replica_kms_keys=replica_keys)
    if not encryption.uses_kms and not replica_keys:
        if encryption.algorithm == "AES256":
            evidence.message = f"{critical_bucket.name} uses S3-managed encryption (SSE-S3)"
            return
        raise NotApplicable(f"{critical_bucket.name} has no default encryption and no replica KMS key")
    problems = []
    if encryption.uses_kms:
        # SSE-KMS without a key ID is the AWS-managed aws/s3 key, which is single-region.
        key = kms_facts.key(encryption.kms_key_id or "alias/aws/s3")
        evidence.observed(default_key=key.metadata.summary())
        problem = key.problem_in(backup)
        if problem:
            problems.append(f"default encryption key: {problem}")
    for replica_key in replica_keys:
        problem = kms_facts.replica_key_problem(replica_key, backup)
        if problem:
            problems.append(f"replication ReplicaKmsKeyID: {problem}")
    assert not problems, (f"{critical_bucket.name}: " + "; ".join(problems)
                          + f" (expected keys with an Enabled copy in {backup})")
    default = "a key Enabled in the backup region too" if encryption.uses_kms else "S3-managed encryption (SSE-S3)"
    evidence.message = (f"{critical_bucket.name} uses {default}"
                        + (f"; its replicas are encrypted with {', '.join(replica_keys)}" if replica_keys else ""))


@requirement("DR-RSA-01")
def test_rsa_key_is_sound(rsa_key: RsaKeys, policy: Policy, evidence: Evidence) -> None:
    running = rsa_key.running_keys()
    evidence.observed(keys={role: i.summary() if i else "not set" for role, i in running.items()},
                      rsa_min_bits=policy.rsa_min_bits)
    problems = {role: _rsa_problem(inspection, policy.rsa_min_bits) for role, inspection in running.items()}
    assert not any(problems.values()), (
        f"{RSA_SETTING} " + "; ".join(f"on {role}: {problem}" for role, problem in problems.items() if problem)
        + f" (expected the base64 of an unencrypted PEM RSA private key of at least {policy.rsa_min_bits} bits)")
    fingerprints = {i.fingerprint for i in running.values() if i}
    assert len(fingerprints) == 1, f"the services run different RSA keys ({', '.join(sorted(map(str, fingerprints)))})"
    first = next(i for i in running.values() if i)
    evidence.message = f"a {first.bits}-bit RSA key, public key {first.fingerprint}, on {', '.join(running)}"


@requirement("DR-RSA-02")
def test_rsa_key_is_escrowed_outside_primary_region(rsa_key: RsaKeys, evidence: Evidence) -> None:
    copies = rsa_key.escrow_copies()
    evidence.observed(escrow=[copy.summary() for copy in copies])
    assert copies, (f"no escrow copy of {RSA_SETTING}: it is not taken from a Secrets Manager secret and "
                    f"encryption.rsa_escrow configures neither secret_id nor host_path")
    problems = [copy.problem for copy in copies if copy.problem]
    assert not problems, "; ".join(problems)
    if any(copy.inspection is not None for copy in copies):
        running = {i for i in rsa_key.running_keys().values() if i}
        evidence.observed(running_public_key_sha256=sorted(str(i.fingerprint) for i in running))
        # An escrow copy matches "the running key" only if there is one: all() over none is no match.
        assert running, (f"no service runs with {RSA_SETTING} set: there is no running key for the escrow "
                         f"copies to hold")
        for copy in copies:
            assert copy.inspection is None or all(copy.inspection.same_key_as(key) for key in running), (
                f"escrow copy {copy.location} holds another key (public key "
                f"{copy.inspection.fingerprint or copy.inspection.problem}), expected the running key's "
                f"{', '.join(sorted(str(i.fingerprint) for i in running))}")
    evidence.message = f"{len(copies)} escrow cop{'y' if len(copies) == 1 else 'ies'} of the running key in place"


@requirement("DR-RSA-03")
def test_rsa_key_is_not_plain_text(rsa_key: RsaKeys, evidence: Evidence) -> None:
    settings = rsa_key.settings()
    evidence.observed(sources={role: ("secret reference " + s.secret_ref if s and s.secret_ref else
                                      "plain value" if s and s.service != "config" else
                                      "installation.settings" if s else "not set")
                               for role, s in settings.items()})
    if any(s is not None and s.service == "config" for s in settings.values()):
        raise Unobservable("spacelift:setting", RSA_SETTING, f"{RSA_SETTING} is given in installation.settings: "
                           f"how it reaches the tasks cannot be observed")
    plain = [role for role, s in settings.items() if s is None or s.secret_ref is None]
    assert not plain, (f"{RSA_SETTING} is a plain environment value (or not set) on {', '.join(plain)}, "
                       f"expected a secrets[].valueFrom reference")
    evidence.message = f"{RSA_SETTING} comes from a secret reference on {', '.join(settings)}"


def _rotation(key: Key) -> str:
    # Rotation is context for the auditor, not part of the pass condition: a denied read is shown, not fatal.
    try:
        enabled = key.rotation_enabled
    except Unobservable as error:
        return f"not observed ({error})"
    return "not applicable to this key" if enabled is None else ("enabled" if enabled else "disabled")


def _rsa_problem(inspection: RsaKeyInspection | None, min_bits: int) -> str | None:
    if inspection is None:
        return "not set"
    if inspection.problem:
        return inspection.problem
    if inspection.encoding != "base64":
        return "a raw PEM, not its base64 encoding"
    if (inspection.bits or 0) < min_bits:
        return f"a {inspection.bits}-bit key"
    return None
