"""The demo's KMS keys as the infra module creates them: master (S3, RDS), in-app encryption, JWT signing.

All three are multi-region with a replica in the backup region when DR-ready. The ``rsa-*`` mutations
run the installation in RSA mode instead: a generated key reaches the services from a Secrets Manager
secret replicated to the backup region, and an escrow copy sits in a second replicated secret
(``spacelift/rsa-escrow-<suffix>``, which a config names under ``encryption.rsa_escrow.secret_id``).
"""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .context import SeedContext

MUTATIONS: dict[str, str] = {
    "single-region-encryption-key": "the in-app encryption key is a single-region key",
    "encryption-key-replica-missing": "the in-app encryption key is multi-region but has no replica in the backup "
                                      "region",
    "encryption-key-replica-disabled": "the in-app encryption key's replica in the backup region is disabled",
    "encryption-key-pending-deletion": "the in-app encryption key is scheduled for deletion",
    "single-region-signing-key": "the JWT signing key is a single-region key",
    "signing-key-wrong-spec": "the JWT signing key is RSA_2048 instead of RSA_4096",
    "encryption-type-mismatch": "the scheduler runs the other ENCRYPTION_TYPE than server and drain",
    "rsa-mode": "ENCRYPTION_TYPE=rsa with a generated key from a replicated secret, escrowed in a second one",
    "rsa-key-short": "RSA mode with a 1024-bit key",
    "rsa-key-passphrase": "RSA mode with a passphrase-protected key",
    "rsa-key-plain-env": "RSA mode with the key as a plain environment value of the task definitions",
    "rsa-escrow-missing": "RSA mode without the escrow secret",
    "rsa-escrow-other-key": "RSA mode with an escrow secret holding another key",
    "rsa-escrow-not-replicated": "RSA mode with an escrow secret that is not replicated to the backup region",
}

RSA_PASSPHRASE = b"demo-passphrase"


@cache
def rsa_private_key(bits: int, label: str = "running") -> rsa.RSAPrivateKey:
    """A generated key, one per size and label per process (generating 2048 bits takes ~0.1 s)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def encoded_key(key: rsa.RSAPrivateKey, passphrase: bytes | None = None) -> str:
    """The key as Spacelift takes it: base64 of a PKCS#8 PEM (encrypted when a passphrase is given)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return base64.b64encode(pem).decode()


def _key(ctx: SeedContext, description: str, replicated: bool = True, multi_region: bool = True,
         usage: str = "ENCRYPT_DECRYPT", spec: str = "SYMMETRIC_DEFAULT") -> dict[str, str]:
    kms = ctx.client("kms")
    # Terraform's aws_kms_key sends KeyUsage and KeySpec explicitly (moto omits KeyUsage when not given).
    key = kms.create_key(Description=description, MultiRegion=multi_region, KeyUsage=usage,
                         KeySpec=spec)["KeyMetadata"]
    if spec == "SYMMETRIC_DEFAULT":
        kms.enable_key_rotation(KeyId=key["KeyId"])
    found = {"arn": key["Arn"], "id": key["KeyId"], "replica_arn": ""}
    if multi_region:
        ctx.facts["kms_key_types"][key["Arn"]] = "PRIMARY"
    if multi_region and replicated:
        replicated_key = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=ctx.backup)["ReplicaKeyMetadata"]
        found["replica_arn"] = replicated_key["Arn"]
        ctx.facts["kms_key_types"][replicated_key["Arn"]] = "REPLICA"
    return found


def _replay_key_metadata(ctx: SeedContext) -> None:
    """moto 5.2 shares one multi-region configuration between a primary and its replicas, so the primary
    reads as a REPLICA once a replica was described; and a primary with replicas scheduled for deletion
    reads PendingDeletion where AWS says PendingReplicaDeletion. Give back what was seeded."""
    types: dict[str, str] = ctx.facts["kms_key_types"]
    states: dict[str, str] = ctx.facts["kms_key_states"]

    def replay(parsed: dict[str, Any], **_: Any) -> None:
        metadata = parsed.get("KeyMetadata") or {}
        arn = metadata.get("Arn")
        configuration = metadata.get("MultiRegionConfiguration")
        if arn in types and isinstance(configuration, dict):
            configuration["MultiRegionKeyType"] = types[arn]
        if arn in states:
            metadata["KeyState"] = states[arn]

    ctx.fixups.append(("after-call.kms.DescribeKey", replay))


def _rsa_mode(ctx: SeedContext) -> bool:
    return any(name.startswith("rsa-") for name in ctx.mutations)


def _secret(ctx: SeedContext, name: str, value: str, replicated: bool = True) -> str:
    params: dict[str, Any] = {"Name": name, "SecretString": value}
    if replicated:
        params["AddReplicaRegions"] = [{"Region": ctx.backup}]
    return str(ctx.client("secretsmanager").create_secret(**params)["ARN"])


def _seed_rsa(ctx: SeedContext) -> None:
    key = rsa_private_key(1024 if ctx.mutated("rsa-key-short") else 2048)
    value = encoded_key(key, RSA_PASSPHRASE if ctx.mutated("rsa-key-passphrase") else None)
    ctx.environment["ENCRYPTION_TYPE"] = "rsa"
    facts: dict[str, Any] = {"escrow_secret": f"spacelift/rsa-escrow-{ctx.suffix}", "value": value}
    if ctx.mutated("rsa-key-plain-env"):
        ctx.environment["ENCRYPTION_RSA_PRIVATE_KEY"] = value
    else:
        ctx.environment.pop("ENCRYPTION_RSA_PRIVATE_KEY", None)
        facts["secret"] = _secret(ctx, f"spacelift/rsa-private-key-{ctx.suffix}", value)
        ctx.secrets["ENCRYPTION_RSA_PRIVATE_KEY"] = facts["secret"]
    if not ctx.mutated("rsa-escrow-missing"):
        escrowed = encoded_key(rsa_private_key(2048, "other")) if ctx.mutated("rsa-escrow-other-key") else value
        _secret(ctx, facts["escrow_secret"], escrowed, replicated=not ctx.mutated("rsa-escrow-not-replicated"))
    ctx.facts["rsa"] = facts


def seed(ctx: SeedContext) -> None:
    ctx.facts["kms_key_types"] = {}
    ctx.facts["kms_key_states"] = {}
    master = _key(ctx, "Spacelift KMS key for AWS resource encryption")
    encryption = _key(ctx, "Spacelift KMS key used for in-app encryption",
                      multi_region=not ctx.mutated("single-region-encryption-key"),
                      replicated=not ctx.mutated("encryption-key-replica-missing"))
    signing = _key(ctx, "Spacelift KMS key used to sign and verify JWTs",
                   multi_region=not ctx.mutated("single-region-signing-key"),
                   usage="SIGN_VERIFY", spec="RSA_2048" if ctx.mutated("signing-key-wrong-spec") else "RSA_4096")
    if ctx.mutated("encryption-key-replica-disabled"):
        ctx.client("kms", ctx.backup).disable_key(KeyId=encryption["id"])
    if ctx.mutated("encryption-key-pending-deletion"):
        ctx.client("kms").schedule_key_deletion(KeyId=encryption["id"], PendingWindowInDays=30)
        ctx.facts["kms_key_states"][encryption["arn"]] = "PendingReplicaDeletion"
    _replay_key_metadata(ctx)
    ctx.facts["kms"] = {"master": master, "encryption": encryption, "signing": signing}
    ctx.environment.update({
        "ENCRYPTION_TYPE": "kms",
        "ENCRYPTION_RSA_PRIVATE_KEY": "",
        "ENCRYPTION_KMS_ENCRYPTION_KEY_ID": encryption["arn"],
        "ENCRYPTION_KMS_SIGNING_KEY_ID": signing["arn"],
    })
    if _rsa_mode(ctx):
        _seed_rsa(ctx)
    if ctx.mutated("encryption-type-mismatch"):
        other = "kms" if ctx.environment["ENCRYPTION_TYPE"] == "rsa" else "rsa"
        ctx.service_environment["scheduler"]["ENCRYPTION_TYPE"] = other
