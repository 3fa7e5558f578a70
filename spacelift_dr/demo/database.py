"""The demo's database and message queues, as the official modules deploy them.

The infra module creates the Aurora PostgreSQL cluster ``spacelift-<suffix>`` encrypted with the master
KMS key, with deletion protection and a backup retention of 5 days. The DR-ready demo keeps backups 7 days
and makes the cluster the primary of an Aurora global cluster with a secondary cluster in the backup
region. Queues: ``postgres`` with the built-in broker; with IoT Core (variant ``iotcore``) the services use
the SQS queues the module creates.
"""

from __future__ import annotations

from .context import SeedContext
from .services import DEMO_DB_PASSWORD

MUTATIONS: dict[str, str] = {
    "db-short-retention": "the cluster keeps automated backups 5 days (the module's default), not 7",
    "db-no-deletion-protection": "the cluster can be deleted without turning off deletion protection first",
    "db-unencrypted": "the cluster's storage is not encrypted",
    "db-no-copy-in-backup-region": "no global cluster, backup copy or snapshot puts the database in the backup region",
    "sqs-queue-missing": "(iotcore) the webhooks SQS queue the services are configured with does not exist",
}

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
        secondary: dict[str, object] = (
            {"StorageEncrypted": True, "KmsKeyId": master["replica_arn"]} if encrypted else {})
        ctx.client("rds", ctx.backup).create_db_cluster(
            DBClusterIdentifier=f"{identifier}-dr", Engine=ENGINE, EngineVersion=ENGINE_VERSION,
            GlobalClusterIdentifier=global_identifier, **secondary)
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
