"""The Spacelift settings the suite knows: those its checks read, and the other settings an installation
deployed by the official modules carries. A setting declared in ``installation.settings`` must be one of
them, so that a typo (``OBJECT_STORAGE_BUCKET_STATE``) is an error with a suggestion, not a setting that
silently never applies.
"""

from __future__ import annotations

import difflib
import re

# Setting → the requirements that read it (the README's settings-only example lists the same).
READ_BY: dict[str, str] = {
    "DATABASE_URL": "DR-DB-01…05, DR-DB-09 (its host finds the database; or database.cluster_identifier)",
    "ENCRYPTION_TYPE": "DR-KMS-01…06, DR-RSA-01…03 (kms or rsa; default kms)",
    "ENCRYPTION_KMS_ENCRYPTION_KEY_ID": "DR-KMS-02…04, DR-KMS-06",
    "ENCRYPTION_KMS_SIGNING_KEY_ID": "DR-KMS-04, DR-KMS-05",
    "ENCRYPTION_RSA_PRIVATE_KEY": "DR-RSA-01…03 (with ENCRYPTION_TYPE rsa)",
    "MQTT_BROKER_TYPE": "DR-BRK-01, DR-BRK-04…08 (builtin or iotcore)",
    "MQTT_BROKER_ENDPOINT": "DR-BRK-01…05",
    "SERVER_DOMAIN": "DR-BRK-02, DR-BRK-03, DR-BRK-09",
    "AWS_REGION": "DR-BRK-06",
    "AWS_SECONDARY_REGION": "DR-BRK-06 (iotcore)",
    "MESSAGE_QUEUE_TYPE": "DR-QUE-01, DR-BRK-08 (postgres or sqs)",
    "OBJECT_STORAGE_BUCKET_MODULES": "DR-OBJ-01…07, DR-KMS-06 (critical bucket)",
    "OBJECT_STORAGE_BUCKET_POLICY_INPUTS": "DR-OBJ-01…07, DR-KMS-06 (critical bucket)",
    "OBJECT_STORAGE_BUCKET_RUN_LOGS": "DR-OBJ-01…07, DR-KMS-06 (critical bucket)",
    "OBJECT_STORAGE_BUCKET_STATES": "DR-OBJ-01…07, DR-KMS-06 (critical bucket)",
}

# Further bucket kinds the modules configure (DR-OBJ-01 reads each one that is set; any of them may be
# made critical with installation.critical_buckets).
BUCKET_KINDS = ("deliveries", "large_queue_messages", "metadata", "modules", "policy_inputs", "run_logs", "states",
                "uploads", "user_uploaded_workspaces", "workspace", "usage_analytics")

# MESSAGE_QUEUE_SQS_<NAME>_URL with MESSAGE_QUEUE_TYPE sqs (DR-QUE-01 reads each one that is set).
SQS_QUEUES = ("ASYNC", "ASYNC_FIFO", "CRONJOBS", "EVENTS_INBOX", "WEBHOOKS", "DLQ", "DLQ_FIFO", "IOT")

# Settings of a Spacelift installation that no check reads (accepted, never needed).
OTHER_SETTINGS = frozenset({
    "DATABASE_READ_ONLY_URL",  # the legacy installer's read-only DSN (a secret reference: DR-SVC-04)
    "ADMIN_USERNAME", "ADMIN_PASSWORD", "LICENSE_TOKEN", "LICENSE_TYPE", "OBSERVABILITY_VENDOR", "ENVIRONMENT",
    "WEBHOOKS_ENDPOINT", "AWS_ACCOUNT_ID", "AWS_DEFAULT_REGION", "AWS_PARTITION", "OBJECT_STORAGE_BUCKET_UPLOADS_URL",
})


def known_settings(extra_bucket_kinds: tuple[str, ...] = ()) -> list[str]:
    """Every setting name a config may declare (sorted)."""
    buckets = {f"OBJECT_STORAGE_BUCKET_{kind.upper()}" for kind in (*BUCKET_KINDS, *extra_bucket_kinds)}
    queues = {f"MESSAGE_QUEUE_SQS_{name}_URL" for name in SQS_QUEUES}
    return sorted(set(READ_BY) | buckets | queues | OTHER_SETTINGS)


def unknown_setting(name: str, extra_bucket_kinds: tuple[str, ...] = ()) -> str | None:
    """None for a known setting; otherwise what to say about it (with the nearest known name)."""
    known = known_settings(extra_bucket_kinds)
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]}?" if close else "see the README's list of settings the suite reads"
    if re.fullmatch(r"OBJECT_STORAGE_BUCKET_[A-Z0-9_]+", name) and not close:
        hint = "a bucket kind of your own must also be listed in installation.critical_buckets"
    return f"a Spacelift setting the suite knows ({hint})"
