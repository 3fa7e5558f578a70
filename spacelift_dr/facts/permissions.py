"""Whether the services' IAM roles may do in the backup region what they may do in the primary (DR-SVC-05).

The official IAM module grants KMS, S3 and ``iot:Publish`` on the primary region's ARNs only; replacement
services started in the backup region then meet AccessDenied. IAM itself decides: ``SimulatePrincipalPolicy``
is asked, per role and set of actions, for those actions on the primary ARNs and on their backup-region twins
(the key replica, the replica bucket, the secret replica, the parameter and topic of the same name there).
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


def decisions_from_api(results: list[dict[str, Any]], role: str, resources: tuple[str, ...],
                       actions: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Resource → action → ``allowed`` / ``explicitDeny`` / ``implicitDeny``, from one simulation of these
    actions on these resources.

    IAM answers one result per action whose top-level decision is the most restrictive over all the
    simulated resources, each resource's own in ``ResourceSpecificResults`` (it used to answer one
    result per action and resource, each with that same aggregate decision). So a resource's decision is its
    resource-specific one; failing that, the top-level decision speaks for it only if it is the only resource
    simulated, or if it allows (then every resource is allowed). Anything else is not understood."""
    specific: dict[tuple[str, str], str] = {}
    summary: dict[str, str] = {}
    for result in results:
        action, decision = result.get("EvalActionName"), result.get("EvalDecision")
        if not isinstance(action, str):
            continue
        for one in result.get("ResourceSpecificResults") or []:
            name, resource_decision = one.get("EvalResourceName"), one.get("EvalResourceDecision")
            if isinstance(name, str) and isinstance(resource_decision, str):
                specific[name, action.lower()] = resource_decision
        if isinstance(decision, str) and (len(resources) == 1 or decision == ALLOWED):
            summary.setdefault(action.lower(), decision)
    decided: dict[str, dict[str, str]] = {}
    for resource in resources:
        found = {a: specific.get((resource, a.lower())) or summary.get(a.lower()) for a in actions}
        missing = [a for a, decision in found.items() if decision is None]
        if missing:
            raise Unobservable(ACTION, f"{role} on {resource}",
                               f"the answer has no decision for {', '.join(missing)} on this resource")
        decided[resource] = {a: str(decision) for a, decision in found.items()}
    return decided


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

    def decisions(self, role: str, actions: tuple[str, ...], resources: tuple[str, ...]) -> dict[str, dict[str, str]]:
        """One simulation of these actions on all these resources (IAM throttles simulations: one call per
        role and set of actions, not per resource)."""
        about = resources[0] if len(resources) == 1 else f"{len(resources)} resources ({', '.join(resources)})"
        results = self._aws.paginate("iam", self._region, "SimulatePrincipalPolicy", "EvaluationResults",
                                     resource=f"{role} on {about}", PolicySourceArn=role,
                                     ActionNames=list(actions), ResourceArns=list(resources))
        assert results is not None
        return decisions_from_api(results, role, resources, actions)


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

    def simulations(self) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """(role, actions, resources): one simulation per role and set of actions, over every resource those
        actions are probed on, in the primary and the backup region."""
        resources_of: dict[tuple[str, ...], list[str]] = {}
        for probe in self.probes:
            arns = resources_of.setdefault(probe.actions, [])
            arns += [arn for arn in (probe.primary_arn, probe.backup_arn) if arn not in arns]
        return [(role, actions, tuple(arns)) for role in self.roles for actions, arns in resources_of.items()]

    def comparisons(self) -> list[Comparison]:
        decided = {(role, actions): self.facts.decisions(role, actions, resources)
                   for role, actions, resources in self.simulations()}
        return [Comparison(role, probe, action, decided[role, probe.actions][probe.primary_arn][action],
                           decided[role, probe.actions][probe.backup_arn][action])
                for role in self.roles for probe in self.probes for action in probe.actions]

    def summary(self) -> dict[str, Any]:
        return {"roles": list(self.roles),
                "resources": [{"resource": p.what, "actions": list(p.actions), "primary": p.primary_arn,
                               "backup": p.backup_arn} for p in self.probes],
                "not_compared": self.not_compared}
