"""The trust-policy evaluator (DR-CON-06, DR-CON-07): examples and hypothesis properties."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spacelift_dr.facts.iam import ANY_EXTERNAL_ID, Caller, TrustPolicy, arn_account, mfa_requirement

ACCOUNT = "123456789012"
OTHER = "210987654321"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/break-glass"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
SPACELIFT = "arn:aws:iam::324880187172:root"
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def allow(principal: Any, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole",
          effect: str = "Allow", key: str = "Principal") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, key: principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def deny(principal: Any, condition: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return allow(principal, condition, effect="Deny", **kw)


def policy(*statements: dict[str, Any]) -> TrustPolicy:
    return TrustPolicy.from_document({"Version": "2012-10-17", "Statement": list(statements)})


def can(trust: TrustPolicy, principal: str, mfa: bool | None = True, external_id: Any = None) -> bool:
    return trust.evaluate(Caller.from_principal(principal, mfa, external_id)).allowed


def test_a_role_trusted_by_arn_can_assume() -> None:
    trust = policy(allow({"AWS": SPACELIFT}, {"StringEquals": {"sts:ExternalId": "acme@stack"}}),
                   allow({"AWS": [BREAK_GLASS]}))
    decision = trust.evaluate(Caller.from_principal(BREAK_GLASS))
    assert decision.allowed
    assert not decision.via_account
    assert not can(trust, USER)


def test_a_session_of_the_trusted_role_matches_it() -> None:
    trust = policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ops/break-glass"}))
    assert can(trust, f"arn:aws:sts::{ACCOUNT}:assumed-role/break-glass/alice")


@pytest.mark.parametrize("entry", [ROOT, ACCOUNT])
def test_account_trust_lets_its_principals_in_through_the_account(entry: str) -> None:
    decision = policy(allow({"AWS": entry})).evaluate(Caller.from_principal(BREAK_GLASS))
    assert decision.allowed
    assert decision.via_account
    assert can(policy(allow({"AWS": entry})), ACCOUNT)
    assert not can(policy(allow({"AWS": entry})), f"arn:aws:iam::{OTHER}:role/x")


def test_a_specific_role_does_not_let_the_whole_account_in() -> None:
    assert not can(policy(allow({"AWS": BREAK_GLASS})), ACCOUNT)


def test_deny_wins_over_allow() -> None:
    trust = policy(allow({"AWS": BREAK_GLASS}), deny({"AWS": "*"}))
    decision = trust.evaluate(Caller.from_principal(BREAK_GLASS))
    assert not decision.allowed
    assert "explicitly denied" in decision.reason


def test_not_principal() -> None:
    everyone_but = policy(allow({"AWS": [USER]}, key="NotPrincipal"))
    assert can(everyone_but, BREAK_GLASS)
    assert not can(everyone_but, USER)
    exempted = policy(allow({"AWS": ROOT}), deny({"AWS": [BREAK_GLASS]}, key="NotPrincipal"))
    assert can(exempted, BREAK_GLASS)
    assert not can(exempted, USER)


def test_service_and_federated_principals_are_not_iam_principals() -> None:
    trust = policy(allow({"Service": "ecs-tasks.amazonaws.com"}),
                   allow({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"},
                         action="sts:AssumeRoleWithSAML"))
    assert not can(trust, BREAK_GLASS)
    assert not can(trust, ACCOUNT)


@pytest.mark.parametrize(("action", "allowed"), [("sts:*", True), ("*", True), (["sts:TagSession"], False),
                                                 ("sts:assumerole", True)])
def test_action_patterns(action: Any, allowed: bool) -> None:
    assert can(policy(allow({"AWS": BREAK_GLASS}, action=action)), BREAK_GLASS) is allowed


def test_not_action() -> None:
    trust = policy({"Effect": "Allow", "Principal": {"AWS": BREAK_GLASS}, "NotAction": "sts:TagSession"})
    assert can(trust, BREAK_GLASS)


def test_mfa_conditions() -> None:
    strict = policy(allow({"AWS": ROOT}, MFA))
    assert can(strict, USER, mfa=True)
    assert not can(strict, USER, mfa=False)
    assert not can(strict, USER, mfa=None)
    lenient = policy(allow({"AWS": ROOT}, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}))
    assert can(lenient, USER, mfa=None)
    assert not can(lenient, USER, mfa=False)


def test_external_id_conditions() -> None:
    trust = policy(allow({"AWS": ROOT}, {"StringEquals": {"sts:ExternalId": "acme"}}))
    assert not can(trust, USER)
    assert can(trust, USER, external_id="acme")
    assert not can(trust, USER, external_id="x")
    assert can(trust, USER, external_id=ANY_EXTERNAL_ID)
    like = policy(allow({"AWS": ROOT}, {"StringLike": {"sts:ExternalId": "acme@*"}}))
    assert can(like, USER, external_id="acme@stack-1")


def test_the_reason_names_the_statement_whose_conditions_fail() -> None:
    trust = policy({"Sid": "Spacelift", **allow({"AWS": ROOT}, {"StringEquals": {"sts:ExternalId": "acme"}})})
    decision = trust.evaluate(Caller.from_principal(BREAK_GLASS))
    assert decision.reason == ("Spacelift names it but its conditions do not hold for a request with MFA and "
                               "no ExternalId")


def test_conditions_it_cannot_evaluate_never_help() -> None:
    unknown = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    allowed_if = policy(allow({"AWS": BREAK_GLASS}, unknown))
    decision = allowed_if.evaluate(Caller.from_principal(BREAK_GLASS))
    assert not decision.allowed
    assert "cannot evaluate" in decision.reason
    assert not can(policy(allow({"AWS": BREAK_GLASS}), deny({"AWS": "*"}, unknown)), BREAK_GLASS)


SSO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BreakGlass_0a1b2c"
SSO_PATTERN = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*"


@pytest.mark.parametrize(("operator", "value", "caller", "allowed"), [
    ("ArnLike", SSO_PATTERN, SSO_ROLE, True),
    ("ArnLike", SSO_PATTERN, BREAK_GLASS, False),
    ("ArnLike", "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*", SSO_ROLE, True),
    # ArnLike matches each colon-separated part on its own: a wildcard never spans into the account field.
    ("ArnLike", "arn:aws:iam::*", SSO_ROLE, False),
    ("StringLike", "arn:aws:iam::*", SSO_ROLE, True),
    ("StringLike", SSO_PATTERN, SSO_ROLE, True),
    ("StringEquals", SSO_ROLE, SSO_ROLE, True),
    ("StringEquals", SSO_PATTERN, SSO_ROLE, False),  # no wildcards in StringEquals
    ("ArnEquals", SSO_ROLE, SSO_ROLE, True),
    ("ArnNotLike", SSO_PATTERN, SSO_ROLE, False),
    ("StringNotEquals", BREAK_GLASS, SSO_ROLE, True),
    # A role session's aws:PrincipalArn is its role's ARN.
    ("ArnEquals", f"arn:aws:iam::{ACCOUNT}:role/break-glass", f"arn:aws:sts::{ACCOUNT}:assumed-role/break-glass/bob",
     True),
    # A caller known only by its account has no known ARN: the condition cannot help.
    ("ArnLike", f"arn:aws:iam::{ACCOUNT}:*", ACCOUNT, False),
])
def test_principal_arn_conditions(operator: str, value: str, caller: str, allowed: bool) -> None:
    trust = policy(allow({"AWS": ROOT}, {operator: {"aws:PrincipalArn": value}}))
    assert can(trust, caller) is allowed


def test_a_deny_unless_principal_arn_matches_lets_only_that_principal_in() -> None:
    trust = policy(allow({"AWS": ROOT}), deny({"AWS": "*"}, {"ArnNotLike": {"aws:PrincipalArn": SSO_PATTERN}}))
    assert can(trust, SSO_ROLE)
    assert not can(trust, BREAK_GLASS)
    assert not can(trust, ACCOUNT)  # unknown ARN: the Deny may apply


@pytest.mark.parametrize(("condition", "with_mfa", "without_mfa"), [
    ({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, True, False),
    ({"NumericLessThanEquals": {"aws:MultiFactorAuthAge": ["900"]}}, True, False),
    # …IfExists: a request without MFA has no such key, and the condition then holds.
    ({"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}}, True, True),
    ({"NumericGreaterThan": {"aws:MultiFactorAuthAge": "0"}}, False, False),  # not modelled: never helps
    ({"NumericLessThan": {"aws:MultiFactorAuthAge": "an hour"}}, False, False),
])
def test_mfa_age_conditions(condition: dict[str, Any], with_mfa: bool, without_mfa: bool) -> None:
    trust = policy(allow({"AWS": ROOT}, condition))
    assert can(trust, USER, mfa=True) is with_mfa
    assert can(trust, USER, mfa=False) is without_mfa
    assert can(trust, USER, mfa=None) is without_mfa


def test_documents_from_the_raw_api_are_url_encoded() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": allow({"AWS": BREAK_GLASS})})
    assert can(TrustPolicy.from_document(urllib.parse.quote(document)), BREAK_GLASS)
    assert can(TrustPolicy.from_document(document), BREAK_GLASS)
    with pytest.raises(ValueError):
        TrustPolicy.from_document("%7Bnot json")


@pytest.mark.parametrize(("statements", "enforced", "without"), [
    ([allow({"AWS": ROOT}, MFA)], True, []),
    ([allow({"AWS": ROOT})], False, [ROOT]),
    ([allow({"AWS": ROOT}, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}})], False, [ROOT]),
    ([allow({"AWS": ROOT}), deny({"AWS": "*"}, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})],
     True, []),
    ([allow({"AWS": [USER, BREAK_GLASS]}, MFA), allow({"AWS": BREAK_GLASS})], False, [BREAK_GLASS]),
    ([allow({"AWS": ROOT}, {"StringEquals": {"sts:ExternalId": "known-to-someone"}})], False, [ROOT]),
    ([allow({"Service": "ec2.amazonaws.com"})], False, []),
    ([allow({"AWS": ROOT}, {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})], True, []),
    ([allow({"AWS": ROOT}, {"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}})], False, [ROOT]),
    # An aws:PrincipalArn-scoped Allow without MFA admits those principals (the account's ci-* roles) without it.
    ([allow({"AWS": ROOT}, MFA), allow({"AWS": ROOT}, {"StringLike": {"aws:PrincipalArn": f"{ROOT[:-4]}role/ci-*"}})],
     False, [ROOT]),
    ([allow({"AWS": ROOT}, MFA), allow({"AWS": ROOT}, {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci-*"}})],
     False, [ROOT]),
    # …but a principal whose ARN the condition never matches is not admitted by that statement.
    ([allow({"AWS": BREAK_GLASS}, MFA),
      allow({"AWS": BREAK_GLASS}, {"StringLike": {"aws:PrincipalArn": f"{ROOT[:-4]}role/ci-*"}})], True, []),
    # An Allow under a condition this suite does not model may admit someone without MFA.
    ([allow({"AWS": ROOT}, MFA), deny({"AWS": "*"}, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
      allow({"AWS": ROOT}, {"StringEquals": {"aws:SourceVpc": "vpc-1"}})], False, [ROOT]),
])
def test_mfa_requirement(statements: list[dict[str, Any]], enforced: bool, without: list[str]) -> None:
    requirement = mfa_requirement(policy(*statements), ACCOUNT)
    assert requirement.enforced is enforced
    assert sorted(requirement.without_mfa) == sorted(without)


# -- properties -------------------------------------------------------------------------------------

entries = st.sampled_from(["*", ACCOUNT, ROOT, BREAK_GLASS, USER, f"arn:aws:iam::{OTHER}:root",
                           f"arn:aws:iam::{OTHER}:role/x", f"arn:aws:iam::{ACCOUNT}:role/*"])
principals = st.one_of(st.just("*"), st.builds(lambda e: {"AWS": e}, st.one_of(entries, st.lists(entries, max_size=3))),
                       st.just({"Service": "ec2.amazonaws.com"}))
actions = st.sampled_from(["sts:AssumeRole", "sts:*", "*", "s3:GetObject", ["sts:TagSession", "sts:AssumeRole"]])
conditions = st.sampled_from([None, MFA, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}},
                              {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
                              {"StringEquals": {"sts:ExternalId": "x"}},
                              {"StringNotEquals": {"sts:ExternalId": "x"}},
                              {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                              {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
                              {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
                              {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
                              {"StringEquals": {"aws:PrincipalArn": USER}}])
statements = st.builds(lambda effect, key, p, a, c: allow(p, c, action=a, effect=effect, key=key),
                       st.sampled_from(["Allow", "Deny"]), st.sampled_from(["Principal", "Principal", "NotPrincipal"]),
                       principals, actions, conditions)
callers = st.builds(Caller.from_principal,
                    st.sampled_from([BREAK_GLASS, USER, ACCOUNT, f"arn:aws:iam::{OTHER}:role/x",
                                     f"arn:aws:sts::{ACCOUNT}:assumed-role/break-glass/s"]),
                    st.sampled_from([True, False, None]), st.sampled_from([None, "x", "y", ANY_EXTERNAL_ID]))


@given(st.lists(statements, max_size=5), statements, callers)
def test_adding_a_deny_never_allows_more(base: list[dict[str, Any]], extra: dict[str, Any], caller: Caller) -> None:
    extra = {**extra, "Effect": "Deny"}
    if policy(*base, extra).evaluate(caller).allowed:
        assert policy(*base).evaluate(caller).allowed


@given(st.lists(statements, max_size=5), callers)
def test_a_matching_unconditional_deny_always_refuses(base: list[dict[str, Any]], caller: Caller) -> None:
    assert not policy(*base, deny("*", action="*")).evaluate(caller).allowed


@given(st.lists(statements, max_size=5), statements, callers)
def test_adding_an_allow_never_refuses_what_was_allowed(base: list[dict[str, Any]], extra: dict[str, Any],
                                                       caller: Caller) -> None:
    extra = {**extra, "Effect": "Allow"}
    if policy(*base).evaluate(caller).allowed:
        assert policy(*base, extra).evaluate(caller).allowed


@given(st.lists(statements, max_size=5), st.randoms(use_true_random=False), callers)
def test_statement_order_does_not_matter(base: list[dict[str, Any]], rng: Any, caller: Caller) -> None:
    shuffled = list(base)
    rng.shuffle(shuffled)
    assert policy(*base).evaluate(caller).allowed == policy(*shuffled).evaluate(caller).allowed


@given(st.lists(statements, max_size=5), callers)
def test_without_an_allow_nobody_is_allowed(base: list[dict[str, Any]], caller: Caller) -> None:
    denies = [{**s, "Effect": "Deny"} for s in base]
    assert not policy(*denies).evaluate(caller).allowed


@given(st.lists(statements, max_size=5), callers)
def test_allows_under_unknown_conditions_never_allow(base: list[dict[str, Any]], caller: Caller) -> None:
    guarded = [{**s, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}} if s["Effect"] == "Allow" else s
               for s in base]
    assert not policy(*guarded).evaluate(caller).allowed


@example([allow("*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
          {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}, "Action": "sts:AssumeRole"}])
@example([allow("*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
          {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/x"}, "Action": "sts:AssumeRole"},
          {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}])
@given(st.lists(statements, max_size=5))
def test_mfa_is_enforced_only_if_no_probe_gets_in_without_it(base: list[dict[str, Any]]) -> None:
    trust = policy(*base)
    requirement = mfa_requirement(trust, ACCOUNT)
    if requirement.enforced:
        for entry in trust.human_principals():
            for mfa in (False, None):
                arn = USER if entry in ("*", ACCOUNT, ROOT) else entry
                # A caller's account is the one its ARN names (a Deny on that account's root covers it).
                caller = Caller(arn_account(arn) or ACCOUNT, arn, mfa, ANY_EXTERNAL_ID)
                if caller.arn and caller.matches(entry):
                    assert not trust.evaluate(caller).allowed


# aws:PrincipalArn is modelled since issue 16 (guarding break-glass with a role/ci-* condition really does
# leave only the MFA statement for it); test_mfa_requirement keeps its role/ci-* cases.
UNMODELLED = st.sampled_from([{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                              {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
                              {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                              {"ForAnyValue:StringLike": {"aws:TagKeys": "x"}}])


@example([allow({"AWS": ROOT}, MFA), allow({"AWS": ROOT})], [False, True],
         {"StringEquals": {"aws:SourceVpc": "vpc-1"}})
@given(st.lists(statements, min_size=1, max_size=5), st.lists(st.booleans(), min_size=5, max_size=5), UNMODELLED)
def test_a_condition_it_cannot_evaluate_never_makes_mfa_look_enforced(base: list[dict[str, Any]],
                                                                      guard: list[bool],
                                                                      unknown: dict[str, Any]) -> None:
    """Guarding statements with a condition the suite does not model can only hide who gets in, never
    prove MFA: if MFA looks enforced with the guards, it is enforced without them."""
    guarded = [{**s, "Condition": {**(s.get("Condition") or {}), **unknown}} if g else s
               for s, g in zip(base, guard, strict=False)]
    if mfa_requirement(policy(*guarded), ACCOUNT).enforced:
        assert mfa_requirement(policy(*base), ACCOUNT).enforced
