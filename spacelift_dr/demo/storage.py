"""The demo's buckets: the eleven the infra module creates, and, when DR-ready, replicas of the
critical ones in the backup region that replicate back (the DR guide's fail-back advice)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .context import SeedContext

# Replication latency (seconds) CloudWatch shows per critical bucket in the DR-ready demo, and when lagging.
LATENCY_SECONDS = {"modules": 35.0, "policy_inputs": 18.0, "run_logs": 55.0, "states": 42.0}
LAGGING_SECONDS = 1800.0

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
        f"replication-role-missing:{_kind}": f"the {_kind} replication configuration names a role that does not exist",
        f"replication-role-untrusted:{_kind}": f"the {_kind} replication role does not let S3 assume it",
        f"replication-to-glacier:{_kind}": f"the {_kind} replication rule writes replicas to GLACIER",
        f"replication-v1-rule:{_kind}": f"(sound) the {_kind} bucket replicates with a V1 rule (Prefix '', no Filter)",
        f"replica-lifecycle-shorter:{_kind}": f"the {_kind} replica expires current versions after 30 days, the "
                                              f"source never",
        f"two-half-rules:{_kind}": f"the {_kind} bucket has two rules (IDs with ':'), one without delete markers, "
                                   f"one without SSE-KMS objects",
        f"failback-prefix-only:{_kind}": f"the {_kind} replica replicates back only prefix 'tmp/'",
        f"replication-metrics-off:{_kind}": f"the {_kind} replication rule publishes no replication metrics",
        f"replication-lagging:{_kind}": f"the {_kind} replication latency reached 1800 s in the last 24 h",
        f"replication-failing:{_kind}": f"the {_kind} replication had 3 failed operations in the last 24 h",
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

    prefix_only = broken("replication-prefix-only") or (back and ctx.mutated(f"failback-prefix-only:{kind}"))
    rule: dict[str, Any] = {
        "ID": "failback" if back else "disaster-recovery",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": "tmp/"} if prefix_only else {},
        "DeleteMarkerReplication": {"Status": "Disabled" if broken("no-delete-markers") else "Enabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{destination}",
                        "EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key}},
    }
    if not back and not broken("replication-metrics-off"):
        rule["Destination"]["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    if broken("replication-to-glacier"):
        rule["Destination"]["StorageClass"] = "GLACIER"
    if not broken("no-sse-kms-selection"):
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    if broken("replication-v1-rule"):
        # The first schema: a rule-level Prefix, no Filter, Priority or DeleteMarkerReplication (S3 then
        # replicates delete markers by itself).
        for field in ("Filter", "Priority", "DeleteMarkerReplication"):
            rule.pop(field)
        rule["Destination"].pop("Metrics", None)  # a V2 feature
        rule["Prefix"] = ""
    return rule


def _half_rules(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """Two rules that each lack one thing DR-OBJ-05 needs (their IDs contain ':' on purpose)."""
    no_deletes = {**rule, "ID": "dr:deletes-off", "Priority": 1,
                  "DeleteMarkerReplication": {"Status": "Disabled"}}
    no_kms = {key: value for key, value in rule.items() if key != "SourceSelectionCriteria"}
    no_kms.update(ID="dr:kms-off", Priority=2)
    return [no_deletes, no_kms]


def replication_role(ctx: SeedContext, name: str, service: str = "s3.amazonaws.com") -> str:
    """A role the given service may assume (S3's replication role)."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service},
                                                        "Action": "sts:AssumeRole"}]}
    iam = ctx.client("iam", ctx.primary)
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"])


def _replicate(ctx: SeedContext, source: str, region: str, rules: list[dict[str, Any]], role: str = "") -> None:
    configuration = {"Role": role or f"arn:aws:iam::{ctx.account}:role/spacelift-s3-replication-{ctx.suffix}",
                     "Rules": rules}
    # moto takes the V2 schema only; the V1 rule it would refuse is given back by the replay below.
    accepted = [{k: v for k, v in r.items() if k != "Prefix"} | ({"Filter": {}, "Priority": 9}
                                                                  if "Filter" not in r else {}) for r in rules]
    ctx.client("s3", region).put_bucket_replication(Bucket=source, ReplicationConfiguration={**configuration,
                                                                                             "Rules": accepted})
    ctx.replication_configurations[source] = configuration


def _role_for(ctx: SeedContext, kind: str) -> str:
    if ctx.mutated(f"replication-role-missing:{kind}"):
        return f"arn:aws:iam::{ctx.account}:role/spacelift-s3-replication-deleted-{ctx.suffix}"
    if ctx.mutated(f"replication-role-untrusted:{kind}"):
        return replication_role(ctx, f"spacelift-s3-replication-{kind.replace('_', '-')}-{ctx.suffix}",
                                "ec2.amazonaws.com")
    return f"arn:aws:iam::{ctx.account}:role/spacelift-s3-replication-{ctx.suffix}"


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

    replication_role(ctx, f"spacelift-s3-replication-{ctx.suffix}")
    lifecycles: dict[str, dict[str, Any]] = {}
    metrics: dict[tuple[str, str], list[float]] = {}
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
            if ctx.mutated(f"replica-lifecycle-shorter:{kind}"):
                lifecycles[replica] = {"Rules": [{"ID": "expire-after-30-days", "Status": "Enabled",
                                                  "Filter": {}, "Expiration": {"Days": 30}}]}
                ctx.client("s3", replica_region).put_bucket_lifecycle_configuration(
                    Bucket=replica, LifecycleConfiguration=lifecycles[replica])
        rule = _rule(ctx, kind, replica, replica_key)
        rules = _half_rules(rule) if ctx.mutated(f"two-half-rules:{kind}") else [rule]
        _replicate(ctx, source, ctx.primary, rules, _role_for(ctx, kind))
        latency = LAGGING_SECONDS if ctx.mutated(f"replication-lagging:{kind}") else LATENCY_SECONDS[kind]
        for seeded in rules:
            metrics[(source, seeded["ID"])] = [latency, 3.0 if ctx.mutated(f"replication-failing:{kind}") else 0.0]

    # moto reports DeleteMarkerReplication Disabled whatever was put and drops SourceSelectionCriteria.
    seeded = ctx.replication_configurations

    def replay_replication(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if params.get("Bucket") in seeded and "ReplicationConfiguration" in parsed:
            parsed["ReplicationConfiguration"] = seeded[params["Bucket"]]

    ctx.replay("s3", "GetBucketReplication", replay_replication)
    _replay_lifecycles(ctx, lifecycles)
    _replay_replication_metrics(ctx, metrics)
    ctx.facts["buckets"] = names
    for kind, name in names.items():
        ctx.environment[f"OBJECT_STORAGE_BUCKET_{kind.upper()}"] = name
    ctx.environment["OBJECT_STORAGE_BUCKET_USAGE_ANALYTICS"] = ""
    ctx.environment["OBJECT_STORAGE_BUCKET_UPLOADS_URL"] = (
        f"https://{names['uploads']}.s3.{ctx.primary}.amazonaws.com")


def _replay_lifecycles(ctx: SeedContext, lifecycles: dict[str, dict[str, Any]]) -> None:
    """moto does not give lifecycle expirations back as S3 does: the demo answers with what was put."""
    def replay(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if params.get("Bucket") in lifecycles and "Error" not in parsed:
            parsed["Rules"] = lifecycles[params["Bucket"]]["Rules"]

    ctx.replay("s3", "GetBucketLifecycleConfiguration", replay)


def metric_answer(query_id: str, values: list[float], end: datetime) -> dict[str, Any]:
    """One GetMetricData result as CloudWatch shapes it (newest datapoint first)."""
    return {"Id": query_id, "Label": query_id, "StatusCode": "Complete", "Values": values,
            "Timestamps": [end - timedelta(hours=index + 1) for index in range(len(values))]}


def _replay_replication_metrics(ctx: SeedContext, metrics: dict[tuple[str, str], list[float]]) -> None:
    """moto keeps no S3 replication metrics: the demo answers GetMetricData with what S3 would publish
    (latency hourly maxima in the destination's region, failed operations in the source's)."""
    def replay(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        results = []
        for query in params.get("MetricDataQueries") or []:
            metric = query.get("MetricStat", {}).get("Metric", {})
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            key = (dimensions.get("SourceBucket", ""), dimensions.get("RuleId", ""))
            if metric.get("Namespace") != "AWS/S3" or key not in metrics:
                return
            latency, failed = metrics[key]
            value = latency if metric.get("MetricName") == "ReplicationLatency" else failed
            results.append(metric_answer(query["Id"], [value * 0.5, value, value * 0.25], params["EndTime"]))
        parsed["MetricDataResults"] = results

    ctx.replay("cloudwatch", "GetMetricData", replay)
