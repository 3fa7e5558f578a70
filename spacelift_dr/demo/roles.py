"""The demo's task and execution roles, as the official IAM module creates them but with every grant
extended to the backup region's resources (DR-SVC-05), and the answer to ``iam:SimulatePrincipalPolicy``.

moto has no SimulatePrincipalPolicy, so the demo answers it: its answers are IAM's query-protocol XML,
built by matching the requested actions and resource ARNs against the statements seeded here (actions and
resources with ``*`` wildcards, Allow only). Real IAM evaluates every policy, condition and boundary.
"""

from __future__ import annotations

import fnmatch
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse

from .context import SeedContext

SERVICES = ("server", "drain", "scheduler")
IOT_TOPICS = "topic/spacelift/*"


def _both(ctx: SeedContext, arn: str, primary_only: bool) -> list[str]:
    parts = arn.split(":", 5)
    backup = ":".join([*parts[:3], ctx.backup, *parts[4:]])
    return [arn] if primary_only else [arn, backup]


def _task_statements(ctx: SeedContext, role: str) -> list[dict[str, Any]]:
    # The official module's trap: its grants name the primary region's ARNs only.
    primary_only = ctx.mutated(f"task-role-primary-only:{role}")
    kms = ctx.facts["kms"]
    buckets = []
    for name in ctx.facts.get("buckets", {}).values():
        copies = [name] if primary_only else [name, f"{name}-dr"]
        buckets += [f"arn:aws:s3:::{b}{tail}" for b in copies for tail in ("", "/*")]
    statements = [
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
         "Resource": _both(ctx, kms["encryption"]["arn"], primary_only)},
        {"Effect": "Allow", "Action": ["kms:GetPublicKey", "kms:Sign", "kms:Verify"],
         "Resource": _both(ctx, kms["signing"]["arn"], primary_only)},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"],
         "Resource": buckets},
    ]
    if ctx.variant == "iotcore" and role in ("server", "drain"):
        statements.append({"Effect": "Allow", "Action": ["iot:Publish"], "Resource": _both(
            ctx, f"arn:aws:iot:{ctx.primary}:{ctx.account}:{IOT_TOPICS}", primary_only)})
    return statements


def _execution_statements(ctx: SeedContext, references: list[str]) -> list[dict[str, Any]]:
    primary_only = ctx.mutated("execution-role-primary-only")
    secrets = [arn for ref in references if ":secretsmanager:" in ref
               for arn in _both(ctx, ":".join(ref.split(":")[:7]), primary_only)]
    parameters = [arn for ref in references if ":ssm:" in ref for arn in _both(ctx, ref, primary_only)]
    statements = [{"Effect": "Allow", "Action": ["kms:Decrypt"],
                   "Resource": _both(ctx, ctx.facts["kms"]["master"]["arn"], primary_only)}]
    if secrets:
        statements.append({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets})
    if parameters:
        statements.append({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": parameters})
    return statements


def seed_roles(ctx: SeedContext, references: list[str]) -> dict[str, tuple[str, str]]:
    """Create the roles; returns service → (task role ARN, execution role ARN)."""
    iam = ctx.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    policies: dict[str, list[dict[str, Any]]] = ctx.facts.setdefault("role_policies", {})

    def role(name: str, statements: list[dict[str, Any]]) -> str:
        arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
        iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        policies[arn] = statements
        return arn

    execution = role(f"spacelift-execution-role-{ctx.suffix}", _execution_statements(ctx, references))
    found = {service: (role(f"spacelift-{service}-role-{ctx.suffix}", _task_statements(ctx, service)), execution)
             for service in SERVICES}
    _answer_simulations(ctx, policies)
    return found


def seed_irsa_grants(ctx: SeedContext, roles: dict[str, str]) -> None:
    """EKS: each service account's IRSA role (service → role ARN) gets the task role's grants, and the demo
    answers their simulations as it does the ECS roles'."""
    iam = ctx.client("iam")
    policies: dict[str, list[dict[str, Any]]] = ctx.facts.setdefault("role_policies", {})
    for service, arn in roles.items():
        statements = _task_statements(ctx, service)
        name = arn.rsplit("/", 1)[-1]
        iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        policies[arn] = statements
    _answer_simulations(ctx, policies)


def _allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    def listed(value: Any) -> list[str]:
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    return any(s.get("Effect") == "Allow"
               and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in listed(s.get("Action")))
               and any(fnmatch.fnmatchcase(resource, r) for r in listed(s.get("Resource")))
               for s in statements)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def simulation_response(statements: list[dict[str, Any]], actions: list[str], resources: list[str]) -> bytes:
    """SimulatePrincipalPolicy's answer as IAM sends it (query protocol XML): one result per action, its
    decision the most restrictive over the resources, each resource's own in ResourceSpecificResults."""

    def decision(action: str, resource: str) -> str:
        return "allowed" if _allowed(statements, action, resource) else "implicitDeny"

    def member(action: str) -> str:
        decisions = [decision(action, r) for r in resources]
        overall = "allowed" if all(d == "allowed" for d in decisions) else "implicitDeny"
        specific = "".join(f"<member><EvalResourceName>{escape(r)}</EvalResourceName>"
                           f"<EvalResourceDecision>{d}</EvalResourceDecision><MatchedStatements/>"
                           f"<MissingContextValues/></member>" for r, d in zip(resources, decisions, strict=True))
        return (f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalDecision>{overall}</EvalDecision>"
                f"<MatchedStatements/><MissingContextValues/>"
                f"<ResourceSpecificResults>{specific}</ResourceSpecificResults></member>")

    return (f'<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            f"<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
            f"<EvaluationResults>{''.join(member(a) for a in actions)}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult>"
            f"<ResponseMetadata><RequestId>demo-simulation</RequestId></ResponseMetadata>"
            f"</SimulatePrincipalPolicyResponse>").encode()


def _answer_simulations(ctx: SeedContext, policies: dict[str, list[dict[str, Any]]]) -> None:
    """Answer SimulatePrincipalPolicy where the request would be sent (``before-send``): a request a test
    denies earlier (``before-call``) never gets here, and the answer goes through botocore's own parser."""

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        form = urllib.parse.parse_qs(body)
        if form.get("Action") != ["SimulatePrincipalPolicy"]:
            return None
        role = form.get("PolicySourceArn", [""])[0]
        if role not in policies:
            return None  # not a role the demo seeded: moto answers (it cannot simulate)
        actions = [v[0] for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
        resources = [v[0] for k, v in sorted(form.items()) if k.startswith("ResourceArns.member.")]
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"},
                           _Raw(simulation_response(policies[role], actions, resources)))

    ctx.fixups.append(("before-send.iam.SimulatePrincipalPolicy", answer))
