"""Stateful components: object storage (DR guide, "Object storage").

The critical buckets (modules, policy inputs, run logs, states) must be versioned and replicated to the
backup region, to a versioned replica, with deletes and KMS-encrypted objects, and back again.
"""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.facts.s3 import Bucket
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence


@requirement("DR-OBJ-01")
def test_configured_bucket_exists(configured_bucket: Bucket, evidence: Evidence) -> None:
    evidence.observed(head_bucket="found" if configured_bucket.exists else "not found")
    assert configured_bucket.exists, f"bucket {configured_bucket.name} does not exist (HeadBucket: 404)"
    evidence.message = f"{configured_bucket.name} exists and answers HeadBucket"


@requirement("DR-OBJ-02")
def test_critical_bucket_keeps_versions(critical_bucket: Bucket, evidence: Evidence) -> None:
    versioning = critical_bucket.versioning
    evidence.observed(versioning=versioning.summary())
    assert versioning.enabled, (
        f"{critical_bucket.name} versioning is {versioning.status or 'never enabled'}, expected Enabled")
    evidence.message = f"{critical_bucket.name} versioning is Enabled"


@requirement("DR-OBJ-03")
def test_critical_bucket_replicates_to_backup_region(critical_bucket: Bucket, installation: Installation,
                                                     evidence: Evidence) -> None:
    replicas = critical_bucket.replicas()
    evidence.observed(rules=[r.summary() for r in critical_bucket.replication.rules],
                      covering_all_objects=[r.summary() for r in replicas])
    targets = sorted({r.bucket.region_or_none or f"{r.bucket.name} (missing)" for r in replicas})
    assert critical_bucket.replicas_in(installation.backup_region), (
        f"{critical_bucket.name} replicates every object to {', '.join(targets) or 'nowhere'}, "
        f"expected a bucket in {installation.backup_region}")
    evidence.message = f"{critical_bucket.name} replicates every object to {installation.backup_region}"


@requirement("DR-OBJ-04")
def test_replica_bucket_is_ready(critical_bucket: Bucket, installation: Installation,
                                 evidence: Evidence) -> None:
    backup = installation.backup_region
    replicas = critical_bucket.replicas()
    evidence.observed(destinations={r.bucket.name: r.bucket.region_or_none or "does not exist"
                                    for r in replicas})
    in_backup = critical_bucket.replicas_in(backup)
    assert in_backup, (f"{critical_bucket.name} has no replica bucket in {backup} "
                       f"(destinations: {', '.join(r.bucket.name for r in replicas) or 'none'})")
    ready = [r.bucket for r in in_backup if r.bucket.versioning.enabled]
    evidence.observed(replica_versioning={r.bucket.name: r.bucket.versioning.summary() for r in in_backup})
    assert ready, (f"replica {in_backup[0].bucket.name} in {backup} has versioning "
                   f"{in_backup[0].bucket.versioning.status or 'never enabled'}, expected Enabled")
    evidence.message = f"replica {ready[0].name} exists in {backup} with versioning Enabled"


@requirement("DR-OBJ-05")
def test_replication_carries_deletes_and_encrypted_objects(critical_bucket: Bucket, installation: Installation,
                                                           evidence: Evidence) -> None:
    backup = installation.backup_region
    encryption = critical_bucket.default_encryption
    rules = [replica.rule for replica in critical_bucket.replicas_in(backup)]
    evidence.observed(default_encryption=encryption.summary(), rules_to_backup_region=[r.summary() for r in rules])
    assert rules, f"{critical_bucket.name} has no enabled rule replicating every object to {backup}"
    problems = []
    for rule in rules:
        if not rule.replicates_delete_markers:
            problems.append(f"rule {rule.id}: DeleteMarkerReplication is {rule.delete_marker_replication or 'not set'}")
        if encryption.uses_kms and not rule.replicates_sse_kms_objects:
            problems.append(f"rule {rule.id}: SseKmsEncryptedObjects is {rule.sse_kms_encrypted_objects or 'not set'}"
                            f" though the bucket encrypts with {encryption.algorithm}")
        if encryption.uses_kms and rule.replica_kms_key_region != backup:
            problems.append(f"rule {rule.id}: ReplicaKmsKeyID {rule.replica_kms_key_id or 'not set'} is not "
                            f"a key in {backup}")
    good = len(rules) - len({p.split(":")[0] for p in problems})
    assert good > 0, "; ".join(problems) + " (expected Enabled delete-marker replication" + (
        f" and SSE-KMS objects replicated with a key in {backup})" if encryption.uses_kms else ")")
    evidence.message = (f"{critical_bucket.name} replicates delete markers"
                        + (f" and SSE-KMS objects with a key in {backup}" if encryption.uses_kms else ""))


@requirement("DR-OBJ-06")
def test_replica_replicates_back(critical_bucket: Bucket, installation: Installation,
                                 evidence: Evidence) -> None:
    replicas = critical_bucket.replicas_in(installation.backup_region)
    assert replicas, (f"{critical_bucket.name} has no replica in {installation.backup_region} "
                      f"to fail back from")
    back = {r.bucket.name: [rule.summary() for rule in r.bucket.replication.enabled_rules_to(critical_bucket.name)]
            for r in replicas if r.bucket.exists}
    evidence.observed(rules_back_to_source=back)
    assert any(back.values()), (
        f"replica {', '.join(back) or replicas[0].bucket.name} has no enabled rule replicating back to "
        f"{critical_bucket.name}, expected one for fail-back")
    evidence.message = f"{next(n for n, r in back.items() if r)} replicates back to {critical_bucket.name}"
