"""Encryption (DR guide, "Encryption"): one mode everywhere; in KMS mode, multi-region keys replicated and
enabled in the backup region; stateful data under keys the backup region has; in RSA mode, a sound key
that is escrowed outside the primary region and kept out of plain text.
"""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.config import Policy
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.database import Copy
from spacelift_dr.facts.kms import MODES, EncryptionModes, Key, KmsFacts
from spacelift_dr.facts.rsa import RSA_SETTING, RsaKeyInspection, RsaKeys
from spacelift_dr.facts.s3 import Bucket
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence, NotApplicable

SIGNING_SPEC = ("SIGN_VERIFY", "RSA_4096")


@requirement("DR-KMS-01")
def test_one_encryption_mode_everywhere(encryption_modes: EncryptionModes, installation: Installation,
                                        evidence: Evidence) -> None:
    evidence.about("ENCRYPTION_TYPE")
    if installation.declared_once("ENCRYPTION_TYPE"):
        raise NotApplicable("ENCRYPTION_TYPE is declared once in the config for every service (or defaults to "
                            "kms): no service's own value was observed to compare")
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
    setting = encryption_key.setting_in(backup)
    evidence.observed(setting_in_backup_region=setting.summary())
    assert setting.problem is None, f"{setting.problem}, expected it to target the replica in {backup}"
    evidence.message = f"{copy.arn if copy else key.arn} is Enabled in {backup}" + (
        f"; {setting.note}" if setting.note else "")


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
def test_database_copy_key_is_enabled_in_backup_region(database_copies: list[Copy], kms_facts: KmsFacts,
                                                       installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    keyed = [c for c in database_copies if c.kms_key_id]
    evidence.observed(copies=[c.summary() for c in database_copies])
    if not keyed:
        raise NotApplicable("the database's copies in the backup region are not encrypted with a KMS key "
                            "(StorageEncrypted: see DR-DB-05)")
    states = {c.arn: kms_facts.describe(str(c.kms_key_id), c.region) for c in keyed}
    evidence.observed(keys={arn: key.summary() if key else "does not exist" for arn, key in states.items()})
    problems = [f"{c.kind} {c.arn}: key {c.kms_key_id} " + (
        f"is {found.key_state}" if found else f"does not exist in {c.region}")
        for c in keyed if not (found := states[c.arn]) or not found.enabled]
    assert not problems, "; ".join(problems) + f" (expected each copy's key Enabled in {backup})"
    evidence.message = "; ".join(f"{c.kind} {c.arn.rsplit(':', 1)[-1]} is encrypted with {c.kms_key_id}, Enabled "
                                 f"in {c.region}" for c in keyed)


@requirement("DR-KMS-06")
def test_critical_bucket_copy_key_is_enabled_in_backup_region(critical_bucket: Bucket, kms_facts: KmsFacts,
                                                              installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    replicas = critical_bucket.replicas_in(backup)
    if not replicas:
        raise NotApplicable(f"{critical_bucket.name} has no replica in {backup} (see DR-OBJ-03): no copy whose key "
                            f"to follow")
    keys = {f"replica {r.bucket.name} default encryption": r.bucket.default_encryption for r in replicas}
    evidence.observed(replica_encryption={name: e.summary() for name, e in keys.items()},
                      replica_kms_keys=sorted({k for r in replicas if (k := r.rule.replica_kms_key_id)}))
    wanted = {name: e.kms_key_id or "alias/aws/s3" for name, e in keys.items() if e.uses_kms}
    wanted |= {f"rule {r.rule.id} ReplicaKmsKeyID": r.rule.replica_kms_key_id for r in replicas
               if r.rule.replica_kms_key_id}
    if not wanted:
        if all(e.algorithm == "AES256" for e in keys.values()):
            evidence.message = f"the replicas of {critical_bucket.name} use S3-managed encryption (SSE-S3)"
            return
        raise NotApplicable(f"the replicas of {critical_bucket.name} have no KMS key and no default encryption")
    problems = [f"{name}: {problem}" for name, key in wanted.items()
                if (problem := kms_facts.replica_key_problem(key, backup))]
    assert not problems, (f"{critical_bucket.name}: " + "; ".join(problems)
                          + f" (expected the keys of its copies Enabled in {backup})")
    evidence.message = (f"the copies of {critical_bucket.name} in {backup} are encrypted with keys Enabled there "
                        f"({', '.join(sorted(set(wanted.values())))})")


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
