"""The demo's continuity side: the Terraform state bucket its shipped code tree (``demo/terraform``) names,
the roles its stacks deploy with, and a break-glass role.

DR-ready: the state bucket is versioned, replicated to the backup region and MFA-delete protected; each
deployment role trusts Spacelift (with an ExternalId) and the break-glass role; the break-glass role has a
policy and trusts the account's users only with MFA. The Spacelift API is not configured (N/A).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .context import SUFFIX, SeedContext
from .storage import replication_role

# The shipped code tree; its backend blocks name STATE_BUCKET in the primary region.
TERRAFORM_DIR = Path(__file__).resolve().parent / "terraform"
STATE_BUCKET = "spacelift-tfstate-ab12c"
SPACELIFT_ACCOUNT = "324880187172"  # the AWS account Spacelift's workers assume roles from (SaaS)

MUTATIONS: dict[str, str] = {
    "state-versioning-suspended": "the Terraform state bucket's versioning was suspended",
    "state-same-region-replication": "the Terraform state bucket replicates to a bucket in its own region",
    "state-mfa-delete-off": "MFA delete was never enabled on the Terraform state bucket",
    "state-replication-per-state-prefix": "(sound) the state bucket replicates with one rule per state key prefix",
    "state-replication-misses-a-state": "the state bucket's prefix rules leave out the platform state",
    "state-replication-role-missing": "the state bucket's replication role does not exist",
    "deployment-role-missing": "the recorded network deployment role was deleted from IAM",
    "deployment-role-trusts-only-spacelift": "the platform deployment role trusts only Spacelift",
    "break-glass-without-mfa": "the break-glass role trusts the account's users without requiring MFA",
    "break-glass-without-policies": "the break-glass role has no permissions policy",
}


def _statement(principal: str, condition: dict[str, Any] | None = None, sid: str = "") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if sid:
        statement["Sid"] = sid
    if condition:
        statement["Condition"] = condition
    return statement


def state_bucket_name(ctx: SeedContext) -> str:
    """The shipped code's bucket for the demo installation; another installation seeded beside it (its
    own account and suffix) gets its own, since bucket names are global."""
    return STATE_BUCKET if ctx.suffix == SUFFIX else f"spacelift-tfstate-{ctx.suffix}"


def _state_bucket(ctx: SeedContext) -> None:
    bucket = state_bucket_name(ctx)
    primary = ctx.client("s3", ctx.primary)
    primary.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": ctx.primary})
    primary.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    same_region = ctx.mutated("state-same-region-replication")
    replica_region = ctx.primary if same_region else ctx.backup
    replica = f"{bucket}-{'copy' if same_region else 'dr'}"
    backup = ctx.client("s3", replica_region)
    backup.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": replica_region})
    backup.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    role = replication_role(ctx, f"spacelift-tfstate-replication-{ctx.suffix}")
    if ctx.mutated("state-replication-role-missing"):
        role = f"arn:aws:iam::{ctx.account}:role/spacelift-tfstate-replication-deleted-{ctx.suffix}"
    prefixes = [""]
    if ctx.mutated("state-replication-per-state-prefix"):
        prefixes = ["network/", "platform/", "env:/"]  # the shipped backends' keys and workspace prefix
    elif ctx.mutated("state-replication-misses-a-state"):
        prefixes = ["network/", "env:/"]
    configuration = {
        "Role": role,
        "Rules": [{"ID": f"state-to-backup-region{'-' + p.strip(':/') if p else ''}", "Status": "Enabled",
                   "Priority": index + 1, "Filter": {"Prefix": p} if p else {},
                   "DeleteMarkerReplication": {"Status": "Enabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{replica}"}} for index, p in enumerate(prefixes)],
    }
    primary.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=configuration)
    ctx.replication_configurations[bucket] = configuration
    if ctx.mutated("state-versioning-suspended"):
        primary.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    if not ctx.mutated("state-mfa-delete-off"):
        # MFA delete is enabled by the root user with a device code; moto accepts no such call and never
        # reports MFADelete, so the demo replays what a real GetBucketVersioning would say.
        _replay_mfa_delete(ctx, {bucket})


def _replay_mfa_delete(ctx: SeedContext, buckets: set[str]) -> None:
    def fix(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if params.get("Bucket") in buckets and "Error" not in parsed:
            parsed["MFADelete"] = "Enabled"

    ctx.replay("s3", "GetBucketVersioning", fix)


def _role(ctx: SeedContext, name: str, statements: list[dict[str, Any]]) -> str:
    iam = ctx.client("iam", ctx.primary)
    document = {"Version": "2012-10-17", "Statement": statements}
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"])


def _roles(ctx: SeedContext) -> None:
    iam = ctx.client("iam", ctx.primary)
    account_root = f"arn:aws:iam::{ctx.account}:root"
    break_glass_name = f"spacelift-break-glass-{ctx.suffix}"
    break_glass_arn = f"arn:aws:iam::{ctx.account}:role/{break_glass_name}"
    mfa = None if ctx.mutated("break-glass-without-mfa") else {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    _role(ctx, break_glass_name, [_statement(account_root, mfa, "OperatorsWithMfa")])
    if not ctx.mutated("break-glass-without-policies"):
        policy = iam.create_policy(PolicyName=f"spacelift-break-glass-{ctx.suffix}", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Resource": f"arn:aws:iam::{ctx.account}:role/spacelift-deploy-*"}]}))
        iam.attach_role_policy(RoleName=break_glass_name, PolicyArn=policy["Policy"]["Arn"])

    spacelift = _statement(f"arn:aws:iam::{SPACELIFT_ACCOUNT}:root",
                           {"StringLike": {"sts:ExternalId": "demo@*"}}, "SpaceliftWorkers")
    deployment_roles = []
    for stack in ("network", "platform"):
        name = f"spacelift-deploy-{stack}-{ctx.suffix}"
        deployment_roles.append(f"arn:aws:iam::{ctx.account}:role/{name}")
        if stack == "network" and ctx.mutated("deployment-role-missing"):
            continue
        statements = [spacelift]
        if not (stack == "platform" and ctx.mutated("deployment-role-trusts-only-spacelift")):
            statements.append(_statement(break_glass_arn, sid="BreakGlass"))
        _role(ctx, name, statements)
    # The shipped code names the demo's own state bucket: other installations name theirs in the config.
    code = ({"terraform_dirs": [str(TERRAFORM_DIR)]} if ctx.suffix == SUFFIX
            else {"state_buckets": [state_bucket_name(ctx)]})
    ctx.facts["continuity"] = {
        **code,
        "deployment_roles": deployment_roles,
        "break_glass_principals": [break_glass_arn],
        "break_glass_role": break_glass_arn,
    }


def seed(ctx: SeedContext) -> None:
    _state_bucket(ctx)
    _roles(ctx)
