"""Role facts from API-shaped answers: existence, a name under another path, another account, and the
config's Spacelift endpoint."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from spacelift_dr.config import parse_config
from spacelift_dr.errors import ConfigError, Unobservable
from spacelift_dr.facts.iam import Caller, RoleFacts

ARN = "arn:aws:iam::123456789012:role/deploy/network"


class Answers:
    """Stands in for AwsAccess: answers each operation from a dict (None = the ``absent`` error code)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def call(self, service: str, region: str, operation: str, **_: Any) -> Any:
        self.calls.append(operation)
        return self.answers[operation]

    def paginate(self, service: str, region: str, operation: str, key: str, **_: Any) -> Any:
        self.calls.append(operation)
        return self.answers[operation]


def role(answers: dict[str, Any], caller_account: str | None = "123456789012") -> Any:
    return RoleFacts(Answers(answers), "eu-west-1", caller_account).role(ARN)  # type: ignore[arg-type]


def test_a_role_with_its_trust_policy_as_the_raw_api_sends_it() -> None:
    document = urllib.parse.quote(json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/break-glass"},
        "Action": "sts:AssumeRole"}]}))
    found = role({"GetRole": {"Role": {"Arn": ARN, "RoleName": "network", "AssumeRolePolicyDocument": document}}})
    assert found.exists
    assert found.name == "network"
    assert found.trust_policy.evaluate(Caller.from_principal("arn:aws:iam::123456789012:role/break-glass")).allowed


def test_a_missing_role_does_not_exist_and_has_no_trust_policy() -> None:
    missing = role({"GetRole": None})
    assert not missing.exists
    with pytest.raises(Unobservable, match="NoSuchEntity"):
        _ = missing.trust_policy


def test_the_same_name_under_another_path_is_not_the_recorded_role() -> None:
    other = role({"GetRole": {"Role": {"Arn": "arn:aws:iam::123456789012:role/network"}}})
    assert other.found_arn == "arn:aws:iam::123456789012:role/network"
    assert not other.exists


def test_a_role_in_another_account_is_an_error_not_a_missing_role() -> None:
    elsewhere = role({"GetRole": {"Role": {"Arn": ARN}}}, caller_account="999999999999")
    with pytest.raises(Unobservable, match="the role is in account 123456789012"):
        _ = elsewhere.exists


def test_policies_attached_and_inline() -> None:
    found = role({"ListAttachedRolePolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
                  "ListRolePolicies": ["inline"]})
    assert found.attached_policies == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert found.inline_policies == ["inline"]


@pytest.mark.parametrize("endpoint", ["acme.app.spacelift.io", "ftp://acme", "https://"])
def test_the_spacelift_endpoint_must_be_a_url(endpoint: str) -> None:
    data = {"installation": {"name": "x", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
                             "discover": {"ecs_cluster": "c"}},
            "continuity": {"spacelift_api": {"endpoint": endpoint}}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "dr.yaml")
    expected = "dr.yaml: continuity.spacelift_api.endpoint: expected the Spacelift account URL"
    assert str(caught.value).startswith(expected)
