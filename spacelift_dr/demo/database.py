"""The demo's database and message queues, as the official modules deploy them.

The infra module creates the Aurora PostgreSQL cluster ``spacelift-<suffix>`` encrypted with the master
KMS key, with deletion protection and a backup retention of 5 days. The DR-ready demo keeps backups 7 days
and makes the cluster the primary of an Aurora global cluster with a secondary cluster in the backup
region. Queues: ``postgres`` with the built-in broker; with IoT Core (variant ``iotcore``) the services use
the SQS queues the module creates.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .context import SeedContext
from .services import DEMO_DB_PASSWORD

MUTATIONS: dict[str, str] = {
    "db-short-retention": "the cluster keeps automated backups 5 days (the module's default), not 7",
    "db-no-deletion-protection": "the cluster can be deleted without turning off deletion protection first",
    "db-unencrypted": "the cluster's storage is not encrypted",
    "db-no-copy-in-backup-region": "no global cluster, backup copy or snapshot puts the database in the backup region",
    "sqs-queue-missing": "(iotcore) the webhooks SQS queue the services are configured with does not exist",
    "db-rpo-lagging": "the global secondary's AuroraGlobalDBRPOLag reached 90 min in the last hour",
    "db-copy-key-pending-deletion": "the secondary cluster's key in the backup region is scheduled for deletion",
}

# What CloudWatch shows for the secondary cluster over the last hour (milliseconds, hourly maxima of
# minute datapoints): moto keeps no RDS metrics, so the demo answers GetMetricData with these.
RPO_LAG_MS = [900.0, 1200.0, 1000.0]
REPLICATION_LAG_MS = [400.0, 700.0, 650.0]
LAGGING_RPO_LAG_MS = [5_400_000.0, 4_000_000.0]

ENGINE = "aurora-postgresql"
ENGINE_VERSION = "16.4"

# queue name → setting; the drain alone also reads the dead-letter and IoT queues.
QUEUES = {
    "spacelift-async-jobs": "MESSAGE_QUEUE_SQS_ASYNC_URL",
    "spacelift-async-jobs.fifo": "MESSAGE_QUEUE_SQS_ASYNC_FIFO_URL",
    "spacelift-cronjobs": "MESSAGE_QUEUE_SQS_CRONJOBS_URL",
    "spacelift-events-inbox": "MESSAGE_QUEUE_SQS_EVENTS_INBOX_URL",
    "spacelift-webhooks": "MESSAGE_QUEUE_SQS_WEBHOOKS_URL",
}
DRAIN_QUEUES = {
    "spacelift-dlq": "MESSAGE_QUEUE_SQS_DLQ_URL",
    "spacelift-dlq.fifo": "MESSAGE_QUEUE_SQS_DLQ_FIFO_URL",
    "spacelift-iot": "MESSAGE_QUEUE_SQS_IOT_URL",
}
MISSING_QUEUE = "spacelift-webhooks"


def _cluster(ctx: SeedContext) -> None:
    master = ctx.facts["kms"]["master"]
    identifier = f"spacelift-{ctx.suffix}"
    encrypted = not ctx.mutated("db-unencrypted")
    in_global = not ctx.mutated("db-no-copy-in-backup-region")
    global_identifier = f"spacelift-{ctx.suffix}-global"
    rds = ctx.client("rds")
    if in_global:
        rds.create_global_cluster(GlobalClusterIdentifier=global_identifier, Engine=ENGINE,
                                  EngineVersion=ENGINE_VERSION, StorageEncrypted=encrypted)
    options: dict[str, object] = {"GlobalClusterIdentifier": global_identifier} if in_global else {}
    if encrypted:
        options.update(StorageEncrypted=True, KmsKeyId=master["arn"])
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier, Engine=ENGINE, EngineVersion=ENGINE_VERSION, DatabaseName="spacelift",
        MasterUsername="spacelift", MasterUserPassword=DEMO_DB_PASSWORD, Port=5432,
        BackupRetentionPeriod=5 if ctx.mutated("db-short-retention") else 7,
        DeletionProtection=not ctx.mutated("db-no-deletion-protection"),
        Tags=[{"Key": "spacelift", "Value": ctx.suffix}], **options)["DBCluster"]
    rds.create_db_instance(DBInstanceIdentifier=f"{identifier}-1", DBClusterIdentifier=identifier, Engine=ENGINE,
                           DBInstanceClass="db.r6g.large")
    if in_global:
        copy_key = master["replica_arn"]
        if ctx.mutated("db-copy-key-pending-deletion"):
            kms = ctx.client("kms", ctx.backup)
            created = kms.create_key(Description="spacelift database copy", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
            kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)
            copy_key = created["Arn"]
        secondary: dict[str, object] = {"StorageEncrypted": True, "KmsKeyId": copy_key} if encrypted else {}
        ctx.client("rds", ctx.backup).create_db_cluster(
            DBClusterIdentifier=f"{identifier}-dr", Engine=ENGINE, EngineVersion=ENGINE_VERSION,
            GlobalClusterIdentifier=global_identifier, **secondary)
    if in_global:
        _replay_lag_metrics(ctx, f"{identifier}-dr")
    ctx.facts["database"] = {
        "cluster_identifier": identifier,
        "arn": cluster["DBClusterArn"],
        "writer_endpoint": cluster["Endpoint"],
        "reader_endpoint": cluster["ReaderEndpoint"],
        "global_cluster_identifier": global_identifier if in_global else None,
    }


def queue_url(ctx: SeedContext, name: str) -> str:
    return f"https://sqs.{ctx.primary}.amazonaws.com/{ctx.account}/{name}"


def _queues(ctx: SeedContext) -> None:
    if ctx.variant != "iotcore":
        # The module sets postgres whenever it creates no SQS queues (the built-in broker's case).
        ctx.environment["MESSAGE_QUEUE_TYPE"] = "postgres"
        return
    sqs = ctx.client("sqs")
    for name in (*QUEUES, *DRAIN_QUEUES):
        if name == MISSING_QUEUE and ctx.mutated("sqs-queue-missing"):
            continue
        sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if name.endswith(".fifo") else {})
    ctx.environment["MESSAGE_QUEUE_TYPE"] = "sqs"
    ctx.environment.update({setting: queue_url(ctx, name) for name, setting in QUEUES.items()})
    ctx.service_environment["drain"].update({setting: queue_url(ctx, name) for name, setting in DRAIN_QUEUES.items()})
    ctx.facts["queues"] = {name: queue_url(ctx, name) for name in (*QUEUES, *DRAIN_QUEUES)}


def seed(ctx: SeedContext) -> None:
    _cluster(ctx)
    _queues(ctx)


def _replay_lag_metrics(ctx: SeedContext, secondary: str) -> None:
    lags = {"AuroraGlobalDBRPOLag": LAGGING_RPO_LAG_MS if ctx.mutated("db-rpo-lagging") else RPO_LAG_MS,
            "AuroraGlobalDBReplicationLag": REPLICATION_LAG_MS}

    def replay(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        results = []
        for query in params.get("MetricDataQueries") or []:
            metric = query.get("MetricStat", {}).get("Metric", {})
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            if metric.get("Namespace") != "AWS/RDS" or dimensions.get("DBClusterIdentifier") != secondary:
                return
            values = lags.get(metric.get("MetricName", ""), [])
            results.append({"Id": query["Id"], "Label": metric["MetricName"], "StatusCode": "Complete",
                            "Values": values, "Timestamps": [params["EndTime"] - timedelta(minutes=5 * (i + 1))
                                                             for i in range(len(values))]})
        parsed["MetricDataResults"] = results

    ctx.replay("cloudwatch", "GetMetricData", replay)
