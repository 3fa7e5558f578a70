"""The demo's KMS keys as the infra module creates them: master (S3, RDS), in-app encryption, JWT signing.

All three are multi-region with a replica in the backup region when DR-ready.
"""

from __future__ import annotations

from .context import SeedContext

MUTATIONS: dict[str, str] = {}


def _key(ctx: SeedContext, description: str, **kwargs: object) -> dict[str, str]:
    kms = ctx.client("kms")
    key = kms.create_key(Description=description, MultiRegion=True, **kwargs)["KeyMetadata"]
    replicated = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=ctx.backup)["ReplicaKeyMetadata"]
    return {"arn": key["Arn"], "id": key["KeyId"], "replica_arn": replicated["Arn"]}


def seed(ctx: SeedContext) -> None:
    master = _key(ctx, "Spacelift KMS key for AWS resource encryption")
    encryption = _key(ctx, "Spacelift KMS key used for in-app encryption")
    signing = _key(ctx, "Spacelift KMS key used to sign and verify JWTs",
                   KeyUsage="SIGN_VERIFY", KeySpec="RSA_4096")
    ctx.facts["kms"] = {"master": master, "encryption": encryption, "signing": signing}
    ctx.environment.update({
        "ENCRYPTION_TYPE": "kms",
        "ENCRYPTION_RSA_PRIVATE_KEY": "",
        "ENCRYPTION_KMS_ENCRYPTION_KEY_ID": encryption["arn"],
        "ENCRYPTION_KMS_SIGNING_KEY_ID": signing["arn"],
    })
