"""The demo's buckets: the eleven the infra module creates, and, when DR-ready, replicas of the
critical ones in the backup region that replicate back (the DR guide's fail-back advice)."""

from __future__ import annotations

from typing import Any

from .context import SeedContext

# kind (as in OBJECT_STORAGE_BUCKET_<KIND>) → bucket name part, and whether the module versions it.
BUCKETS: dict[str, tuple[str, bool]] = {
    "deliveries": ("deliveries", False),
    "large_queue_messages": ("large-queue-messages", False),
    "metadata": ("metadata", False),
    "modules": ("modules", True),
    "policy_inputs": ("policy-inputs", True),
    "run_logs": ("run-logs", True),
    "states": ("states", True),
    "uploads": ("uploads", True),
    "user_uploaded_workspaces": ("user-uploaded-workspaces", True),
    "workspace": ("workspace", True),
}
CRITICAL = ("modules", "policy_inputs", "run_logs", "states")

MUTATIONS: dict[str, str] = {}
for _kind in CRITICAL:
    MUTATIONS.update({
        # S3 refuses replication on an unversioned bucket, so an unversioned bucket is unreplicated too.
        f"unversioned:{_kind}": f"the {_kind} bucket never had versioning enabled (so it cannot replicate)",
        f"no-replication:{_kind}": f"the {_kind} bucket has no replication configuration",
        f"replication-prefix-only:{_kind}": f"the {_kind} bucket's replication rule covers only prefix 'tmp/'",
        f"replication-same-region:{_kind}": f"the {_kind} bucket replicates to a bucket in the primary region",
        f"replica-unversioned:{_kind}": f"the {_kind} replica bucket has versioning suspended",
        f"replica-missing:{_kind}": f"the {_kind} bucket replicates to a bucket that does not exist",
        f"no-delete-markers:{_kind}": f"the {_kind} replication rule does not replicate delete markers",
        f"no-sse-kms-selection:{_kind}": f"the {_kind} replication rule skips SSE-KMS encrypted objects",
        f"no-failback:{_kind}": f"the {_kind} replica does not replicate back to the original",
    })
MUTATIONS["missing-bucket:deliveries"] = "the deliveries bucket the services are configured with was deleted"


def _create(ctx: SeedContext, name: str, region: str, versioned: bool, kms_key: str | None) -> None:
    s3 = ctx.client("s3", region)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if kms_key:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key},
            "BucketKeyEnabled": True}]})


def _rule(ctx: SeedContext, kind: str, destination: str, replica_key: str, back: bool = False) -> dict[str, Any]:
    def broken(mutation: str) -> bool:  # mutations break the forward rule, never the fail-back one
        return not back and ctx.mutated(f"{mutation}:{kind}")

    rule: dict[str, Any] = {
        "ID": "failback" if back else "disaster-recovery",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": "tmp/"} if broken("replication-prefix-only") else {},
        "DeleteMarkerReplication": {"Status": "Disabled" if broken("no-delete-markers") else "Enabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{destination}",
                        "EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key}},
    }
    if not broken("no-sse-kms-selection"):
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    return rule


def _replicate(ctx: SeedContext, source: str, region: str, rules: list[dict[str, Any]]) -> None:
    configuration = {"Role": f"arn:aws:iam::{ctx.account}:role/spacelift-s3-replication-{ctx.suffix}",
                     "Rules": rules}
    ctx.client("s3", region).put_bucket_replication(Bucket=source, ReplicationConfiguration=configuration)
    ctx.replication_configurations[source] = configuration


def seed(ctx: SeedContext) -> None:
    master = ctx.facts["kms"]["master"]
    names: dict[str, str] = {}
    for kind, (part, versioned) in BUCKETS.items():
        name = ctx.name(part)
        names[kind] = name
        if ctx.mutated(f"missing-bucket:{kind}"):
            continue
        _create(ctx, name, ctx.primary, versioned and not ctx.mutated(f"unversioned:{kind}"), master["arn"])
    # The binaries bucket exists but is not handed to the services.
    _create(ctx, ctx.name("binaries"), ctx.primary, True, None)

    for kind in CRITICAL:
        if ctx.mutated(f"no-replication:{kind}") or ctx.mutated(f"unversioned:{kind}"):
            continue
        source = names[kind]
        same_region = ctx.mutated(f"replication-same-region:{kind}")
        replica_region = ctx.primary if same_region else ctx.backup
        replica = f"{source}-dr" if not same_region else f"{source}-copy"
        replica_key = master["arn"] if same_region else master["replica_arn"]
        if not ctx.mutated(f"replica-missing:{kind}"):
            _create(ctx, replica, replica_region, True, replica_key)
            if ctx.mutated(f"replica-unversioned:{kind}"):
                ctx.client("s3", replica_region).put_bucket_versioning(
                    Bucket=replica, VersioningConfiguration={"Status": "Suspended"})
            elif not ctx.mutated(f"no-failback:{kind}"):
                _replicate(ctx, replica, replica_region, [_rule(ctx, kind, source, master["arn"], back=True)])
        _replicate(ctx, source, ctx.primary, [_rule(ctx, kind, replica, replica_key)])

    # moto reports DeleteMarkerReplication Disabled whatever was put and drops SourceSelectionCriteria.
    seeded = ctx.replication_configurations

    def replay_replication(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if params.get("Bucket") in seeded and "ReplicationConfiguration" in parsed:
            parsed["ReplicationConfiguration"] = seeded[params["Bucket"]]

    ctx.replay("s3", "GetBucketReplication", replay_replication)
    ctx.facts["buckets"] = names
    for kind, name in names.items():
        ctx.environment[f"OBJECT_STORAGE_BUCKET_{kind.upper()}"] = name
    ctx.environment["OBJECT_STORAGE_BUCKET_USAGE_ANALYTICS"] = ""
    ctx.environment["OBJECT_STORAGE_BUCKET_UPLOADS_URL"] = (
        f"https://{names['uploads']}.s3.{ctx.primary}.amazonaws.com")
