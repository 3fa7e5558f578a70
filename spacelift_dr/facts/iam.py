"""IAM role facts and a trust-policy evaluator for ``sts:AssumeRole``.

moto has no ``iam:SimulatePrincipalPolicy`` and real simulation needs more permissions, so the suite
evaluates the role's trust policy (from ``GetRole``) itself. The evaluator is deliberately conservative:
a condition it cannot evaluate never helps an Allow and always lets a Deny apply, so an unknown
never turns into "can assume".

What it understands: ``Principal``/``NotPrincipal`` with ``AWS`` principals (role, user and
assumed-role ARNs, account ids, ``arn:…:root``, ``*`` and ``*``/``?`` wildcards), ``Action``/
``NotAction`` patterns, ``Allow``/``Deny`` (an explicit Deny wins), and conditions on
``aws:MultiFactorAuthPresent`` (``Bool``, ``BoolIfExists``), ``aws:MultiFactorAuthAge``
(``NumericLessThan``, ``NumericLessThanEquals``), ``aws:PrincipalArn`` (``StringEquals``, ``StringLike``,
``ArnEquals``, ``ArnLike`` and their negations) and ``sts:ExternalId`` (``StringEquals``,
``StringLike``, ``StringNotEquals``, ``StringNotLike``, each also ``…IfExists``). A principal trusted
through its account (``123456789012`` or ``arn:aws:iam::123456789012:root``) still needs an identity
policy allowing ``sts:AssumeRole`` in that account; the decision says so (``via_account``).
"""

from __future__ import annotations

import enum
import fnmatch
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from ..aws import AwsAccess, remembered_property
from ..errors import Unobservable

ASSUME_ROLE = "sts:AssumeRole"
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_ARN = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::([0-9]{12}):(.+)$")


class _AnyValue(enum.Enum):
    """A request value the caller may choose freely (e.g. an ExternalId someone knows)."""

    ANY = "any"


ANY_EXTERNAL_ID = _AnyValue.ANY


def role_name(arn: str) -> str:
    """``arn:aws:iam::123456789012:role/path/deploy`` → ``deploy`` (GetRole takes the name)."""
    return arn.rsplit("/", 1)[-1]


def arn_account(arn: str) -> str | None:
    match = _ARN.match(arn)
    return match.group(3) if match else None


@dataclass(frozen=True)
class Caller:
    """Who calls ``sts:AssumeRole`` and with what request context.

    ``arn`` is None for "some principal of ``account``" (a configured account id).
    ``mfa`` is the value of ``aws:MultiFactorAuthPresent``: True, False, or None when the key is absent
    (long-term access keys).
    """

    account: str
    arn: str | None = None
    mfa: bool | None = True
    external_id: str | _AnyValue | None = None

    @classmethod
    def from_principal(cls, principal: str, mfa: bool | None = True,
                       external_id: str | _AnyValue | None = None) -> Caller:
        if _ACCOUNT.match(principal):
            return cls(principal, None, mfa, external_id)
        account = arn_account(principal)
        if account is None:
            raise ValueError(f"{principal!r} is neither an IAM principal ARN nor a 12-digit account id")
        if principal.endswith(":root"):
            return cls(account, None, mfa, external_id)
        return cls(account, principal, mfa, external_id)

    def context(self) -> str:
        mfa = {True: "with MFA", False: "without MFA", None: "without an MFA key"}[self.mfa]
        external = "any ExternalId" if self.external_id is ANY_EXTERNAL_ID else (
            "no ExternalId" if self.external_id is None else "another ExternalId")
        return f"a request {mfa} and {external}"

    def _names(self) -> set[str]:
        """This caller's ARN and its equivalents (a role and the sessions of that role)."""
        if self.arn is None:
            return set()
        names = {self.arn}
        match = _ARN.match(self.arn)
        if match:
            partition, service, account, resource = match.groups()
            if service == "sts" and resource.startswith("assumed-role/"):
                role = resource.split("/")[1]
                names.add(f"arn:{partition}:iam::{account}:role/{role}")
            if service == "iam" and resource.startswith("role/"):
                names.add(f"arn:{partition}:iam::{account}:role/{role_name(self.arn)}")
        return names

    def matches(self, entry: str) -> bool:
        """Whether a ``Principal`` ``AWS`` entry names this caller (itself or its whole account)."""
        if entry == "*":
            return True
        if _ACCOUNT.match(entry) or re.match(r"^arn:aws[a-z-]*:iam::[0-9]{12}:root$", entry):
            return (entry if _ACCOUNT.match(entry) else arn_account(entry)) == self.account
        if self.arn is None:
            return False
        if any(ch in entry for ch in "*?"):
            return any(fnmatch.fnmatchcase(name, entry) for name in self._names())
        target = {entry}
        match = _ARN.match(entry)
        if match and match.group(4).startswith("role/"):
            target.add(f"arn:{match.group(1)}:iam::{match.group(3)}:role/{role_name(entry)}")
        return bool(target & self._names())

    def matches_by_account(self, entry: str) -> bool:
        """The entry names the caller only through its account (root or id), not by ARN."""
        return entry != "*" and self.matches(entry) and (
            bool(_ACCOUNT.match(entry)) or entry.endswith(":root"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _aws_entries(principal: Any) -> tuple[list[str], bool]:
    """(the AWS entries, whether the element names anyone at all with ``*``)."""
    if principal == "*":
        return ["*"], True
    if not isinstance(principal, dict):
        return [], False
    entries = [str(e) for e in _as_list(principal.get("AWS"))]
    return entries, "*" in entries


_BOOL_OPS = {"bool", "boolifexists"}
_STRING_OPS = {"stringequals", "stringlike", "stringnotequals", "stringnotlike",
               "stringequalsignorecase", "stringnotequalsignorecase"}


def _condition_holds(operator: str, key: str, values: list[Any], caller: Caller) -> bool | None:
    """True/False when this suite can tell; None when the operator or key is one it does not model."""
    op = operator.lower()
    for_any = op.startswith("forallvalues:") or op.startswith("foranyvalue:")
    if for_any:
        return None
    if_exists = op.endswith("ifexists")
    base = op.removesuffix("ifexists")
    key = key.lower()
    if key == "aws:principalarn":
        return _principal_arn_holds(base, values, caller)
    if key == "aws:multifactorauthage":
        return _mfa_age_holds(base, if_exists, values, caller)
    if key == "aws:multifactorauthpresent" and base == "bool":
        if caller.mfa is None:
            return if_exists
        return any(str(v).lower() == str(caller.mfa).lower() for v in values)
    if key == "sts:externalid" and base in _STRING_OPS:
        negated = "not" in base
        if caller.external_id is None:
            # AWS: a missing key makes positive string operators false and negated ones true.
            return bool(if_exists or negated)
        if caller.external_id is ANY_EXTERNAL_ID:
            return True  # the caller can send whatever value the condition wants
        value = str(caller.external_id)
        if "ignorecase" in base:
            hit = any(str(v).lower() == value.lower() for v in values)
        elif "like" in base:
            hit = any(fnmatch.fnmatchcase(value, str(v)) for v in values)
        else:
            hit = any(str(v) == value for v in values)
        return not hit if negated else hit
    return None


# -- aws:PrincipalArn and aws:MultiFactorAuthAge (DR-CON-06, DR-CON-07) ------------------------------

_PRINCIPAL_ARN_OPS = {"stringequals", "stringlike", "arnequals", "arnlike",
                      "stringnotequals", "stringnotlike", "arnnotequals", "arnnotlike"}
# A caller signing in with MFA for the break-glass procedure does so just before assuming the role.
FRESH_MFA_AGE_SECONDS = 0


def _glob(pattern: str, value: str) -> bool:
    """IAM's ``*`` (any run of characters) and ``?`` (one character); nothing else is special."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _arn_like(pattern: str, arn: str) -> bool:
    """``ArnLike``/``ArnEquals``: each of the six colon-separated parts matched on its own, with wildcards."""
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(_glob(w, a) for w, a in zip(wanted, actual, strict=True))


def principal_arn(caller: Caller) -> str | None:
    """The value of ``aws:PrincipalArn`` for the caller: a user's or role's ARN (a role session's is its
    role's ARN, without the path a session ARN does not show); None when only the account is known."""
    if caller.arn is None:
        return None
    match = _ARN.match(caller.arn)
    if match is None:
        return None
    partition, service, account, resource = match.groups()
    if service == "sts" and resource.startswith("assumed-role/"):
        return f"arn:{partition}:iam::{account}:role/{resource.split('/')[1]}"
    return caller.arn


def _principal_arn_holds(base: str, values: list[Any], caller: Caller) -> bool | None:
    """``aws:PrincipalArn`` is always present in a request; a caller known only by its account has no
    known ARN, and an operator not listed here is not modelled: None."""
    arn = principal_arn(caller)
    if arn is None or base not in _PRINCIPAL_ARN_OPS:
        return None
    negated = "not" in base
    positive = base.replace("not", "", 1) if negated else base
    if positive == "stringequals":
        hit = any(str(v) == arn for v in values)
    elif positive == "stringlike":
        hit = any(_glob(str(v), arn) for v in values)
    else:  # ArnEquals and ArnLike match alike (both take wildcards)
        hit = any(_arn_like(str(v), arn) for v in values)
    return not hit if negated else hit


def _mfa_age_holds(base: str, if_exists: bool, values: list[Any], caller: Caller) -> bool | None:
    """``NumericLessThan``/``NumericLessThanEquals`` on ``aws:MultiFactorAuthAge``: the key exists only
    when the caller signed in with MFA (then its age is fresh); absent, the condition is false unless
    ``…IfExists``. Other operators are not modelled: None."""
    if base not in {"numericlessthan", "numericlessthanequals"}:
        return None
    try:
        bounds = [float(str(v)) for v in values]
    except ValueError:
        return None
    if caller.mfa is not True:
        return if_exists
    age = FRESH_MFA_AGE_SECONDS
    return any(age < bound if base == "numericlessthan" else age <= bound for bound in bounds)


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    principal: Any
    not_principal: Any
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    condition: dict[str, Any]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Statement:
        return cls(
            sid=str(data.get("Sid", "")),
            effect=str(data.get("Effect", "")),
            principal=data.get("Principal"),
            not_principal=data.get("NotPrincipal"),
            actions=tuple(str(a) for a in _as_list(data.get("Action"))),
            not_actions=tuple(str(a) for a in _as_list(data.get("NotAction"))),
            condition=dict(data.get("Condition") or {}),
        )

    def covers_action(self, action: str = ASSUME_ROLE) -> bool:
        def hit(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

        if self.not_actions:
            return not hit(self.not_actions)
        return hit(self.actions)

    def names(self, caller: Caller) -> bool:
        if self.not_principal is not None:
            entries, _ = _aws_entries(self.not_principal)
            # NotPrincipal exempts only principals it names by ARN (AWS: naming the account
            # does not exempt the principals in it).
            return not any(caller.matches(e) and not caller.matches_by_account(e) and e != "*" for e in entries) \
                and "*" not in entries
        entries, _ = _aws_entries(self.principal)
        return any(caller.matches(e) for e in entries)

    def conditions_hold(self, caller: Caller) -> bool | None:
        outcome: bool | None = True
        for operator, block in self.condition.items():
            if not isinstance(block, dict):
                return None
            for key, values in block.items():
                held = _condition_holds(str(operator), str(key), _as_list(values), caller)
                if held is False:
                    return False
                if held is None:
                    outcome = None
        return outcome

    def applies(self, caller: Caller, action: str = ASSUME_ROLE) -> bool | None:
        """True: applies to this request; False: does not; None: depends on conditions not modelled."""
        if not self.covers_action(action) or not self.names(caller):
            return False
        return self.conditions_hold(caller)

    def aws_principals(self) -> list[str]:
        return _aws_entries(self.principal)[0]

    def label(self, index: int) -> str:
        return self.sid or f"statement {index + 1}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    via_account: bool = False
    statements: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason, "via_account": self.via_account,
                "statements": list(self.statements)}


@dataclass(frozen=True)
class TrustPolicy:
    """A role's ``AssumeRolePolicyDocument``."""

    statements: tuple[Statement, ...]

    @classmethod
    def from_document(cls, document: str | dict[str, Any] | None) -> TrustPolicy:
        """From GetRole's document: boto3 gives a dict, the raw API a URL-encoded JSON string."""
        if document is None:
            return cls(())
        if isinstance(document, str):
            text = urllib.parse.unquote(document) if document.lstrip().startswith("%") else document
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("the trust policy is not a JSON document") from None
        if not isinstance(document, dict):
            raise ValueError("the trust policy is not a JSON object")
        raw = document.get("Statement")
        return cls(tuple(Statement.from_api(s) for s in _as_list(raw) if isinstance(s, dict)))

    def evaluate(self, caller: Caller, action: str = ASSUME_ROLE, *, unknown_admits: bool = False) -> Decision:
        """May ``caller`` perform ``action`` as far as this trust policy decides?

        By default a condition this suite does not model never helps an Allow and always lets a Deny apply
        ("can someone get in" is never answered yes on an unknown). ``unknown_admits`` asks the opposite
        question, "might someone get in" (DR-CON-07's "without MFA"): then such a condition may hold on
        an Allow and may not hold on a Deny."""
        denies = [(i, s) for i, s in enumerate(self.statements) if s.effect == "Deny"]
        allows = [(i, s) for i, s in enumerate(self.statements) if s.effect == "Allow"]
        for index, statement in denies:
            applies = statement.applies(caller, action)
            if applies is True:
                return Decision(False, f"explicitly denied by {statement.label(index)}",
                                statements=(statement.label(index),))
            if applies is None and not unknown_admits:
                return Decision(False, f"{statement.label(index)} (Deny) has conditions this suite cannot "
                                       f"evaluate, so it may apply", statements=(statement.label(index),))
        granted = [(i, s) for i, s in allows if s.applies(caller, action) is True]
        possibly = [(i, s) for i, s in allows if s.applies(caller, action) is None] if unknown_admits else []
        if possibly and not granted:
            return Decision(True, "possibly allowed by " + ", ".join(s.label(i) for i, s in possibly)
                            + ", under conditions this suite cannot evaluate (they may admit it)",
                            statements=tuple(s.label(i) for i, s in possibly))
        if granted:
            via_account = all(
                not any(caller.matches(e) and not caller.matches_by_account(e) for e in s.aws_principals())
                and not s.not_principal for _, s in granted)
            return Decision(True, "allowed by " + ", ".join(s.label(i) for i, s in granted),
                            via_account=via_account, statements=tuple(s.label(i) for i, s in granted))
        unclear = [s.label(i) for i, s in allows if s.applies(caller, action) is None]
        if unclear:
            return Decision(False, f"only {', '.join(unclear)} might allow it, under conditions this suite "
                                   f"cannot evaluate", statements=tuple(unclear))
        unmet = [s.label(i) for i, s in allows if s.covers_action(action) and s.names(caller)]
        if unmet:
            return Decision(False, f"{', '.join(unmet)} names it but its conditions do not hold for "
                                   f"{caller.context()}", statements=tuple(unmet))
        return Decision(False, "no statement allows it")

    def human_principals(self, action: str = ASSUME_ROLE) -> list[str]:
        """The AWS principals (users, roles, accounts, ``*``) that Allow statements trust for ``action``.
        Service and federated principals are not people signing in with an IAM password and MFA device."""
        found: list[str] = []
        for statement in self.statements:
            if statement.effect == "Allow" and statement.covers_action(action):
                for entry in statement.aws_principals():
                    if entry not in found:
                        found.append(entry)
                if statement.not_principal is not None and "*" not in found:
                    found.append("*")
        return found

    def summary(self) -> list[dict[str, Any]]:
        return [{"Sid": s.sid, "Effect": s.effect, "Principal": s.principal,
                 **({"NotPrincipal": s.not_principal} if s.not_principal is not None else {}),
                 "Action": list(s.actions) or {"NotAction": list(s.not_actions)},
                 "Condition": s.condition} for s in self.statements]


def probe_caller(entry: str, account: str, mfa: bool | None,
                 external_id: str | _AnyValue | None = None) -> Caller:
    """A caller standing for a trusted ``entry``: the principal itself, or a user of the trusted account."""
    if entry == "*":
        return Caller(account, f"arn:aws:iam::{account}:user/any-user", mfa, external_id)
    if any(ch in entry for ch in "*?"):
        # IAM refuses wildcards inside principal ARNs, but if one is read, probe with a name it matches.
        if entry.startswith("arn:"):
            return Caller(arn_account(entry) or account, entry.replace("*", "any").replace("?", "x"), mfa,
                          external_id)
        target = arn_account(entry) or account
        return Caller(target, f"arn:aws:iam::{target}:user/any-user", mfa, external_id)
    if _ACCOUNT.match(entry) or entry.endswith(":root"):
        target = entry if _ACCOUNT.match(entry) else (arn_account(entry) or account)
        return Caller(target, f"arn:aws:iam::{target}:user/any-user", mfa, external_id)
    return Caller(arn_account(entry) or account, entry, mfa, external_id)


def principal_arns_named(policy: TrustPolicy, accounts: list[str]) -> list[str]:
    """A concrete principal ARN for each value of a positive ``aws:PrincipalArn`` condition in the policy
    (``arn:aws:iam::123456789012:role/ci-*`` → ``…:role/ci-any``; a wildcard account stands for each of
    ``accounts`` it matches), so DR-CON-07 can ask whether the principals such a condition admits get in
    without MFA. Values that are not IAM ARNs are skipped."""
    found: list[str] = []
    for statement in policy.statements:
        for operator, block in statement.condition.items():
            base = str(operator).lower().removesuffix("ifexists")
            if base not in _PRINCIPAL_ARN_OPS or "not" in base or not isinstance(block, dict):
                continue
            for key, values in block.items():
                if str(key).lower() != "aws:principalarn":
                    continue
                for value in _as_list(values):
                    parts = str(value).split(":", 5)
                    if len(parts) != 6:
                        continue
                    resource = parts[5].replace("*", "any").replace("?", "x")
                    for candidate in [a for a in accounts if _glob(parts[4], a)]:
                        concrete = ":".join([*parts[:4], candidate, resource])
                        if _ARN.match(concrete) and concrete not in found:
                            found.append(concrete)
    return found


@dataclass(frozen=True)
class MfaRequirement:
    """Whether every human principal the trust policy lets in must present MFA."""

    without_mfa: dict[str, str]  # principal → why it can assume without MFA
    with_mfa: list[str]  # principals that can assume with MFA

    @property
    def enforced(self) -> bool:
        return not self.without_mfa and bool(self.with_mfa)


def mfa_requirement(policy: TrustPolicy, account: str) -> MfaRequirement:
    """Probe each trusted AWS principal without MFA (key False, and key absent) and with MFA.

    The no-MFA probes may send any ExternalId (someone might know it); the MFA probe sends none.
    """
    without: dict[str, str] = {}
    with_mfa: list[str] = []
    entries = policy.human_principals()
    accounts = sorted({account} | {a for e in entries
                                   if (a := e if _ACCOUNT.match(e) else arn_account(e)) is not None})
    named = principal_arns_named(policy, accounts)
    for entry in entries:
        for mfa in (False, None):
            # "Does anyone get in without MFA": a condition it cannot evaluate may let them in. Besides the
            # entry's own probe, every principal an aws:PrincipalArn condition names and the entry covers
            # (a role/ci-* under a trusted account root) is asked too: such an Allow admits exactly those.
            probes = [probe_caller(entry, account, mfa, ANY_EXTERNAL_ID)]
            probes += [caller for arn in named
                       if (caller := Caller(arn_account(arn) or account, arn, mfa, ANY_EXTERNAL_ID)).matches(entry)]
            decision = next((d for d in (policy.evaluate(c, unknown_admits=True) for c in probes) if d.allowed),
                            None)
            if decision is not None:
                key = "false" if mfa is False else "absent"
                without[entry] = f"aws:MultiFactorAuthPresent {key}: {decision.reason}"
                break
        if policy.evaluate(probe_caller(entry, account, True)).allowed:
            with_mfa.append(entry)
    return MfaRequirement(without, with_mfa)


# -- roles read from IAM ----------------------------------------------------------------------------


class Role:
    """An IAM role read with ``GetRole``, ``ListAttachedRolePolicies`` and ``ListRolePolicies``."""

    def __init__(self, arn: str, aws: AwsAccess, region: str, caller_account: str | None,
                 accounts: dict[str, str] | None = None) -> None:
        self.arn = arn
        self.name = role_name(arn)
        self._aws = aws
        self._region = region
        self._caller_account = caller_account
        self._accounts = accounts or {}

    def __repr__(self) -> str:
        return f"Role({self.arn!r})"

    @property
    def read_through(self) -> str | None:
        """The AWS profile (``continuity.accounts``) the role is read through; None: the run's own credentials."""
        account = arn_account(self.arn)
        return self._accounts.get(account) if account else None

    def _readable(self, action: str) -> AwsAccess:
        """The access that reads the role in its own account: the profile ``continuity.accounts`` names for
        it (checked to be that account's), or the run's credentials when the role is in their account."""
        import botocore.exceptions

        account = arn_account(self.arn)
        profile = self.read_through
        if account and profile:
            try:
                access = self._aws.for_profile(profile)
            except botocore.exceptions.ProfileNotFound:
                raise Unobservable(action, self.arn, f"continuity.accounts names profile {profile} for account "
                                                     f"{account}, which the AWS config files do not have") from None
            identity = access.call("sts", self._region, "GetCallerIdentity", resource=f"profile {profile}")
            seen = str((identity or {}).get("Account", ""))
            if seen != account:
                raise Unobservable(action, self.arn, f"continuity.accounts names profile {profile} for account "
                                                     f"{account}, but its credentials are account {seen or '?'}")
            return access
        if self._caller_account and account and account != self._caller_account:
            raise Unobservable(action, self.arn, f"the role is in account {account}, the suite's credentials "
                                                 f"in account {self._caller_account}: name an AWS profile for "
                                                 f"{account} under continuity.accounts")
        return self._aws

    @remembered_property
    def _role(self) -> dict[str, Any] | None:
        aws = self._readable("iam:GetRole")
        response = aws.call("iam", self._region, "GetRole", resource=self.arn, absent=("NoSuchEntity",),
                            RoleName=self.name)
        return None if response is None else dict(response.get("Role") or {})

    @property
    def found_arn(self) -> str | None:
        """The ARN of the role with this name, or None when there is none."""
        role = self._role
        return None if role is None else str(role.get("Arn") or self.arn)

    @property
    def exists(self) -> bool:
        """GetRole answers with this ARN: True; NoSuchEntity, or the name under another path: False;
        denied: Unobservable (never False)."""
        return self.found_arn == self.arn

    @remembered_property
    def trust_policy(self) -> TrustPolicy:
        role = self._role
        if role is None:
            raise Unobservable("iam:GetRole", self.arn, "NoSuchEntity: the role does not exist")
        try:
            return TrustPolicy.from_document(role.get("AssumeRolePolicyDocument"))
        except ValueError as error:
            raise Unobservable("iam:GetRole", self.arn, f"unexpected AssumeRolePolicyDocument: {error}") from None

    @remembered_property
    def attached_policies(self) -> list[str]:
        aws = self._readable("iam:ListAttachedRolePolicies")
        items = aws.paginate("iam", self._region, "ListAttachedRolePolicies", "AttachedPolicies",
                                   resource=self.arn, RoleName=self.name)
        return [str(p.get("PolicyArn")) for p in items or []]

    @remembered_property
    def inline_policies(self) -> list[str]:
        aws = self._readable("iam:ListRolePolicies")
        items = aws.paginate("iam", self._region, "ListRolePolicies", "PolicyNames", resource=self.arn,
                                   RoleName=self.name)
        return [str(p) for p in items or []]


@dataclass
class RoleFacts:
    """One :class:`Role` per ARN per run."""

    aws: AwsAccess
    region: str
    caller_account: str | None = None
    accounts: dict[str, str] = field(default_factory=dict)  # continuity.accounts: account id → AWS profile
    _roles: dict[str, Role] = field(default_factory=dict)

    def role(self, arn: str) -> Role:
        if arn not in self._roles:
            self._roles[arn] = Role(arn, self.aws, self.region, self.caller_account, self.accounts)
        return self._roles[arn]
