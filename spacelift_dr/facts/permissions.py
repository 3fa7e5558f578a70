"""Whether the services' IAM roles may do in the backup region what they may do in the primary (DR-SVC-05).

The official IAM module grants KMS, S3 and ``iot:Publish`` on the primary region's ARNs only; replacement
services started in the backup region then meet AccessDenied. IAM itself decides: ``SimulatePrincipalPolicy``
is asked, per role and resource, for the same actions on the primary ARN and on its backup-region twin (the
key replica, the replica bucket, the secret replica, the parameter and topic of the same name there).
Only what the role is allowed in the primary is required in the backup region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import AwsAccess
from ..errors import Unobservable

ALLOWED = "allowed"
ACTION = "iam:SimulatePrincipalPolicy"


def in_region(arn: str, region: str) -> str:
    """The same ARN in another region (multi-region key replicas, secret replicas, parameters and topics
    of the same name keep every other part)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn}")
    parts[3] = region
    return ":".join(parts)


@dataclass(frozen=True)
class Probe:
    """Actions a service performs on one resource, and that resource's backup-region counterpart."""

    what: str  # "encryption key", "states bucket", "secret spacelift/db", …
    actions: tuple[str, ...]
    primary_arn: str
    backup_arn: str


def decisions_from_api(results: list[dict[str, Any]], role: str, resource: str,
                       actions: tuple[str, ...]) -> dict[str, str]:
    """Action → ``allowed`` / ``explicitDeny`` / ``implicitDeny`` for ``resource``; an answer that lacks an
    action's decision is not understood."""
    found: dict[str, str] = {}
    for result in results:
        action, decision = result.get("EvalActionName"), result.get("EvalDecision")
        for specific in result.get("ResourceSpecificResults") or []:
            if specific.get("EvalResourceName") == resource and specific.get("EvalResourceDecision"):
                decision = specific["EvalResourceDecision"]
        if isinstance(action, str) and isinstance(decision, str):
            found[action.lower()] = decision
    missing = [a for a in actions if a.lower() not in found]
    if missing:
        raise Unobservable(ACTION, f"{role} on {resource}", f"the answer has no decision for {', '.join(missing)}")
    return {a: found[a.lower()] for a in actions}


@dataclass(frozen=True)
class Comparison:
    """One action of one probe for one role: what IAM decides in each region."""

    role: str
    probe: Probe
    action: str
    primary: str
    backup: str

    @property
    def gap(self) -> bool:
        """Allowed on the primary resource but not on its backup-region counterpart."""
        return self.primary == ALLOWED and self.backup != ALLOWED

    def summary(self) -> dict[str, Any]:
        return {"role": self.role, "resource": self.probe.what, "action": self.action,
                "primary": {"arn": self.probe.primary_arn, "decision": self.primary},
                "backup": {"arn": self.probe.backup_arn, "decision": self.backup}}


class PermissionFacts:
    """``iam:SimulatePrincipalPolicy`` per role and resource, once per run."""

    def __init__(self, aws: AwsAccess, region: str) -> None:
        self._aws = aws
        self._region = region

    def decisions(self, role: str, actions: tuple[str, ...], resource: str) -> dict[str, str]:
        results = self._aws.paginate("iam", self._region, "SimulatePrincipalPolicy", "EvaluationResults",
                                     resource=f"{role} on {resource}", PolicySourceArn=role,
                                     ActionNames=list(actions), ResourceArns=[resource])
        assert results is not None
        return decisions_from_api(results, role, resource, actions)

    def compare(self, role: str, probe: Probe) -> list[Comparison]:
        primary = self.decisions(role, probe.actions, probe.primary_arn)
        backup = self.decisions(role, probe.actions, probe.backup_arn)
        return [Comparison(role, probe, action, primary[action], backup[action]) for action in probe.actions]


# What the services do with each kind of resource (the official IAM module's grants, reduced to what DR needs).
ENCRYPTION_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
SIGNING_KEY_ACTIONS = ("kms:Sign", "kms:GetPublicKey")
BUCKET_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)
PARAMETER_ACTIONS = ("ssm:GetParameters",)
IOT_ACTIONS = ("iot:Publish",)
# A topic the server and drain publish to workers on; the resource is compared, not the exact topic name.
IOT_TOPIC = "topic/spacelift/workers"


@dataclass
class ServicePermissions:
    """One service's roles and the probes they are compared on, and the resources left out (with why)."""

    service: str
    roles: tuple[str, ...]
    probes: list[Probe]
    not_compared: dict[str, str]
    facts: PermissionFacts

    def comparisons(self) -> list[Comparison]:
        return [c for role in self.roles for probe in self.probes for c in self.facts.compare(role, probe)]

    def summary(self) -> dict[str, Any]:
        return {"roles": list(self.roles),
                "resources": [{"resource": p.what, "actions": list(p.actions), "primary": p.primary_arn,
                               "backup": p.backup_arn} for p in self.probes],
                "not_compared": self.not_compared}
