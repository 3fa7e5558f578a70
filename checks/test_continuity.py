"""Disaster continuity: running Terraform without Spacelift (continuity page).

State lives outside Spacelift in versioned, cross-region replicated, MFA-delete-protected buckets; the
roles stacks deploy with are on record and assumable by the break-glass principals; a break-glass role
guarded by MFA exists; the break-glass workstations have Terraform (or OpenTofu) and the AWS CLI.
"""

from __future__ import annotations

import pytest

from fixtures.continuity import ContinuityFacts, StateBucket
from fixtures.requirements import requirement
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.hosts import Workstation
from spacelift_dr.facts.iam import Caller, Role, arn_account, mfa_requirement
from spacelift_dr.facts.locking import StateLocking
from spacelift_dr.facts.terraform import RootModule
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence, NotApplicable
from spacelift_dr.spacelift_api import SpaceliftApi


@requirement("DR-CON-01")
def test_root_module_keeps_state_outside_spacelift(root_module: RootModule, evidence: Evidence) -> None:
    evidence.observed(module=root_module.summary())
    backends = root_module.backends
    assert backends, (f"{root_module.name} declares no backend: its state is local or held by Spacelift, "
                      f"expected a remote backend such as backend \"s3\"")
    assert len(backends) == 1, (f"{root_module.name} declares {len(backends)} backends "
                                f"({', '.join(b.type for b in backends)}), expected exactly one")
    backend = backends[0]
    assert not backend.is_local, f"{root_module.name} uses backend \"local\", expected a remote backend"
    assert not backend.is_spacelift_managed, (
        f"{root_module.name} uses Spacelift's state backend ({backend.setting('address')}), "
        f"expected a backend Spacelift does not manage")
    evidence.message = f"{root_module.name} keeps its state in backend \"{backend.type}\""


@pytest.mark.live  # opens a connection to the Spacelift API
@requirement("DR-CON-01")
def test_stacks_keep_state_outside_spacelift(spacelift_api: SpaceliftApi, evidence: Evidence) -> None:
    stacks = spacelift_api.stacks()
    if not stacks:  # nothing to judge is no PASS: an API key limited to other spaces sees no stack
        raise Unobservable("spacelift:searchStacks", spacelift_api.url,
                           "the API key sees no stack (none exist, or the key's spaces hide them)")
    managed = [s for s in stacks if s.spacelift_manages_state]
    evidence.observed(stacks=len(stacks), spacelift_managed_state=[s.summary() for s in managed[:50]])
    assert not managed, (f"{len(managed)} of {len(stacks)} stacks keep their state in Spacelift "
                         f"({', '.join(s.id for s in managed[:10])}), expected managesStateFile false")
    evidence.message = f"none of the {len(stacks)} stacks keeps its state in Spacelift"


def _existing_region(state_bucket: StateBucket, evidence: Evidence) -> str:
    region = state_bucket.bucket.region_or_none
    evidence.observed(sources=state_bucket.summary(), region=region or "does not exist")
    assert region is not None, f"state bucket {state_bucket.name} does not exist (GetBucketLocation: NoSuchBucket)"
    evidence.about(state_bucket.name, region)
    return region


@requirement("DR-CON-02")
def test_state_bucket_keeps_versions(state_bucket: StateBucket, evidence: Evidence) -> None:
    _existing_region(state_bucket, evidence)
    versioning = state_bucket.bucket.versioning
    evidence.observed(versioning=versioning.summary())
    assert versioning.enabled, (
        f"state bucket {state_bucket.name} versioning is {versioning.status or 'never enabled'}, expected Enabled")
    evidence.message = f"state bucket {state_bucket.name} versioning is Enabled"


@requirement("DR-CON-03")
def test_state_bucket_replicates_to_another_region(state_bucket: StateBucket, evidence: Evidence) -> None:
    region = _existing_region(state_bucket, evidence)
    judged = state_bucket.replication_elsewhere(region)
    keys = state_bucket.state_keys
    evidence.observed(role=state_bucket.bucket.replication.role, rules=[j.summary() for j in judged],
                      state_keys=keys if keys is not None else "not known: every object must be replicated")
    accepted = [j for j in judged if j.accepted]
    covering = "every object" if keys is None else f"every state key ({', '.join(keys)})"
    assert accepted, (f"state bucket {state_bucket.name} ({region}) has no enabled rule replicating {covering} to a "
                      f"bucket in another region that can be read at once: "
                      + ("; ".join(p for j in judged for p in j.problems) or "no enabled replication rule"))
    left_out = state_bucket.keys_left_out(accepted)
    assert not left_out, (f"state bucket {state_bucket.name}: no usable rule replicates state key "
                          f"{', '.join(left_out)} to another region (rules: "
                          + ", ".join(f"{j.rule.id} prefix '{j.rule.prefix}'" for j in accepted) + ")")
    scope = "every object" if any(j.rule.covers_all_objects for j in accepted) else covering
    evidence.message = (f"state bucket {state_bucket.name} replicates {scope} to "
                        + ", ".join(sorted({f"{j.bucket.name} in {j.region}" for j in accepted})))


@requirement("DR-CON-04")
def test_state_bucket_needs_mfa_to_delete(state_bucket: StateBucket, evidence: Evidence) -> None:
    _existing_region(state_bucket, evidence)
    versioning = state_bucket.bucket.versioning
    evidence.observed(versioning=versioning.summary())
    # S3 omits MFADelete for a bucket that never had it configured: that is not protection.
    assert versioning.mfa_delete_enabled, (
        f"state bucket {state_bucket.name} MFADelete is {versioning.mfa_delete or 'not reported (never enabled)'}, "
        f"expected Enabled")
    evidence.message = f"state bucket {state_bucket.name} reports MFADelete Enabled"


@requirement("DR-CON-05")
def test_recorded_deployment_role_exists(recorded_role: Role, evidence: Evidence) -> None:
    found = recorded_role.found_arn
    evidence.observed(get_role=found or "NoSuchEntity",
                      read_through=f"profile {recorded_role.read_through}" if recorded_role.read_through
                      else "the run's credentials")
    assert found == recorded_role.arn, (
        f"{recorded_role.arn} is in continuity.deployment_roles but "
        + (f"IAM has {found} under that name" if found else "does not exist in IAM"))
    evidence.message = f"{recorded_role.arn} exists in IAM"


@pytest.mark.live  # opens a connection to the Spacelift API
@requirement("DR-CON-05")
def test_stack_deployment_roles_are_on_record(spacelift_api: SpaceliftApi, continuity: ContinuityFacts,
                                              evidence: Evidence) -> None:
    stacks = spacelift_api.stacks()
    if not stacks:  # nothing to judge is no PASS: an API key limited to other spaces sees no stack
        raise Unobservable("spacelift:searchStacks", spacelift_api.url,
                           "the API key sees no stack (none exist, or the key's spaces hide them)")
    integrations = spacelift_api.aws_integrations()
    inventory = set(continuity.section.deployment_roles)
    used: dict[str, list[str]] = {}
    for stack in stacks:
        roles, unknown = stack.deployment_roles(integrations)
        if unknown:
            raise Unobservable("spacelift:awsIntegrations", spacelift_api.url,
                               f"stack {stack.id} is attached to integration(s) {', '.join(unknown)} that the API "
                               f"key cannot read")
        for role in roles:
            used.setdefault(role, []).append(stack.id)
    off_record = {role: ids for role, ids in sorted(used.items()) if role not in inventory}
    evidence.observed(stacks=len(stacks), roles_in_use={r: ids[:20] for r, ids in sorted(used.items())},
                      inventory=sorted(inventory), off_record=sorted(off_record))
    assert not off_record, "; ".join(f"{role} (used by {', '.join(ids[:5])}) is not in continuity.deployment_roles"
                                     for role, ids in off_record.items())
    evidence.message = f"all {len(used)} roles the {len(stacks)} stacks deploy with are on record"


@requirement("DR-CON-06")
def test_break_glass_can_assume_deployment_role(deployment_role: Role, break_glass_principals: list[str],
                                                evidence: Evidence) -> None:
    evidence.observed(break_glass_principals=break_glass_principals)
    assert break_glass_principals, ("no break-glass principal is configured (continuity.break_glass_principals "
                                    "or continuity.break_glass_role): nobody is named to assume the role")
    exists = deployment_role.exists
    evidence.observed(get_role="found" if exists else "NoSuchEntity")
    assert exists, f"{deployment_role.arn} does not exist in IAM: nobody can assume it"
    policy = deployment_role.trust_policy
    decisions = {p: policy.evaluate(Caller.from_principal(p, mfa=True)) for p in break_glass_principals}
    evidence.observed(trust_policy=policy.summary(), decisions={p: d.summary() for p, d in decisions.items()})
    refused = {p: d.reason for p, d in decisions.items() if not d.allowed}
    assert not refused, (f"{deployment_role.name}'s trust policy does not let "
                         + "; ".join(f"{p} assume it ({why})" for p, why in refused.items())
                         + ", expected sts:AssumeRole allowed for the break-glass principals")
    through_account = [p for p, d in decisions.items() if d.via_account]
    evidence.message = (f"{deployment_role.name} trusts {', '.join(decisions)}"
                        + (" through the account root (their own policies must allow sts:AssumeRole)"
                           if through_account else ""))


@requirement("DR-CON-07")
def test_break_glass_role_is_ready(break_glass_role: Role, evidence: Evidence) -> None:
    exists = break_glass_role.exists
    evidence.observed(get_role="found" if exists else "NoSuchEntity")
    assert exists, f"break-glass role {break_glass_role.arn} does not exist"
    attached, inline = break_glass_role.attached_policies, break_glass_role.inline_policies
    evidence.observed(attached_policies=attached, inline_policies=inline)
    assert attached or inline, f"break-glass role {break_glass_role.name} has no permissions policy attached or inline"
    policy = break_glass_role.trust_policy
    mfa = mfa_requirement(policy, arn_account(break_glass_role.arn) or "")
    evidence.observed(trust_policy=policy.summary(), assumable_with_mfa=mfa.with_mfa,
                      assumable_without_mfa=mfa.without_mfa)
    assert not mfa.without_mfa, (f"break-glass role {break_glass_role.name} can be assumed without MFA by "
                                 + "; ".join(f"{p} ({why})" for p, why in mfa.without_mfa.items())
                                 + ", expected aws:MultiFactorAuthPresent true (or a NumericLessThan bound on "
                                   "aws:MultiFactorAuthAge) required")
    assert mfa.with_mfa, (f"break-glass role {break_glass_role.name}'s trust policy lets no IAM principal assume it "
                          f"with MFA, expected users signing in with MFA to be trusted")
    count = len(attached) + len(inline)
    evidence.message = (f"{break_glass_role.name} has {count} permissions polic{'y' if count == 1 else 'ies'} and "
                        f"requires MFA of {', '.join(mfa.with_mfa)}")


@requirement("DR-CON-08")
def test_workstation_has_the_tools(workstation: Workstation, continuity: ContinuityFacts,
                                   evidence: Evidence) -> None:
    code = continuity.code
    if code.failures:  # a constraint may hide in the file that did not parse
        raise code.failures[0].unobservable()
    if code.missing:
        raise Unobservable("terraform:scan", code.missing[0], "no such directory")
    assert workstation.reachable
    units = [m.name for m in code.modules if m.terragrunt]
    tools = ("terraform", "tofu", "aws", *(("terragrunt",) if units else ()))
    versions = {tool: workstation.tool_version(tool) for tool in tools}
    requirements = code.required_versions
    evidence.observed(installed={t: str(v) if v else "not installed" for t, v in versions.items()},
                      required_version=[{"constraint": r.text, "file": r.source} for r in requirements],
                      terragrunt_units=units)
    engines = {t: v for t, v in versions.items() if t in ("terraform", "tofu") and v is not None}
    assert engines, f"neither terraform nor tofu is installed on {workstation.spec}"
    fitting = [t for t, v in engines.items() if all(r.allows(v) for r in requirements)]
    unmet = sorted({r.text for v in engines.values() for r in requirements if not r.allows(v)})
    assert fitting, (f"{', '.join(f'{t} {v}' for t, v in engines.items())} on {workstation.spec} does not satisfy "
                     f"required_version {'; '.join(unmet)}")
    assert versions["aws"] is not None, f"the aws CLI is not installed on {workstation.spec}"
    assert not units or versions["terragrunt"] is not None, (
        f"terragrunt is not installed on {workstation.spec}, expected it: the code has {len(units)} Terragrunt "
        f"unit{'s' if len(units) != 1 else ''} ({', '.join(units[:5])})")
    evidence.message = (f"{fitting[0]} {engines[fitting[0]]} satisfies {len(requirements)} required_version "
                        f"constraints; aws CLI {versions['aws']}"
                        + (f"; terragrunt {versions['terragrunt']}" if units else ""))


@requirement("DR-CON-09")
def test_state_locking_survives_the_region(locking_module: StateLocking, continuity: ContinuityFacts,
                                           installation: Installation, evidence: Evidence) -> None:
    backup, name = installation.backup_region, locking_module.module
    if not locking_module.locks:
        raise NotApplicable(f"{name}'s backend \"s3\" takes no lock (neither use_lockfile nor dynamodb_table)")
    if locking_module.table is None:
        evidence.message = f"{name} locks with a lock file beside its state (use_lockfile), which follows the state"
        return
    table = continuity.locks.table(locking_module)
    region = locking_module.region or installation.primary_region
    assert table is not None, f"{name}'s lock table {locking_module.table} does not exist in {region}"
    evidence.observed(lock_table=table.summary())
    problem = table.problem_in(backup)
    assert problem is None, (f"{name}: {problem}"
                             + (" (use_lockfile = true beside it does not help: Terraform then takes both locks)"
                                if locking_module.lockfile else "")
                             + f", expected a global table with an ACTIVE replica in {backup}, or use_lockfile alone")
    evidence.message = f"{name} locks in {table.name}, a global table with an ACTIVE replica in {backup}"
