"""The Spacelift API client against the fake API on loopback: token exchange, pagination, and every
failure as an ERROR naming the GraphQL operation, never with the key secret or the JWT in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spacelift_dr.errors import Unobservable
from spacelift_dr.redaction import Redactor
from spacelift_dr.spacelift_api import SpaceliftApi, Stack
from tests.spacelift_api_fake import JWT, KEY_ID, KEY_SECRET, FakeSpacelift, stack

ROLE_A = "arn:aws:iam::123456789012:role/deploy-a"
ROLE_B = "arn:aws:iam::123456789012:role/deploy-b"
LEGACY = "arn:aws:iam::123456789012:role/legacy"


@pytest.fixture
def fake() -> Iterator[FakeSpacelift]:
    server = FakeSpacelift(
        stacks=[stack("network", integrations=("int-a",)), stack("platform", integrations=("int-a", "int-b")),
                stack("legacy", legacy_role=LEGACY), stack("tg", terragrunt_state=True),
                stack("managed", manages_state=True)],
        integrations=[{"id": "int-a", "name": "a", "roleArn": ROLE_A}, {"id": "int-b", "name": "b", "roleArn": ROLE_B}],
    ).start()
    yield server
    server.stop()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TEST_KEY_ID", KEY_ID)
    monkeypatch.setenv("DR_TEST_KEY_SECRET", KEY_SECRET)


def client(fake: FakeSpacelift, redactor: Redactor | None = None) -> SpaceliftApi:
    return SpaceliftApi(fake.url + "/graphql", "DR_TEST_KEY_ID", "DR_TEST_KEY_SECRET", timeout=5,
                        redact=redactor.add if redactor else None)


@pytest.mark.usefixtures("keys")
def test_stacks_come_from_every_page_with_a_bearer_token(fake: FakeSpacelift) -> None:
    api = client(fake)
    stacks = api.stacks()
    assert [s.id for s in stacks] == ["network", "platform", "legacy", "tg", "managed"]
    assert fake.operations() == ["apiKeyUser", "searchStacks", "searchStacks", "searchStacks"]
    assert all(r["authorization"] == f"Bearer {JWT}" for r in fake.requests[1:])
    assert [r["variables"]["input"]["after"] for r in fake.requests[1:]] == [None, "2", "4"]
    assert api.stacks() == stacks
    assert len(fake.requests) == 4


@pytest.mark.usefixtures("keys")
def test_state_management_and_roles_of_each_stack(fake: FakeSpacelift) -> None:
    api = client(fake)
    stacks = {s.id: s for s in api.stacks()}
    assert [s for s, v in stacks.items() if v.spacelift_manages_state] == ["tg", "managed"]
    integrations = api.aws_integrations()
    assert integrations == {"int-a": ROLE_A, "int-b": ROLE_B}
    assert stacks["platform"].deployment_roles(integrations) == ([ROLE_A, ROLE_B], [])
    assert stacks["legacy"].deployment_roles(integrations) == ([LEGACY], [])
    assert stacks["network"].deployment_roles({}) == ([], ["int-a"])


def test_a_stack_without_managesstatefile_is_not_understood() -> None:
    with pytest.raises(ValueError):
        Stack.from_api({"id": "x", "name": "x"})


@pytest.mark.parametrize(("mode", "operation", "reason"), [
    ("expired", "searchStacks", "HTTP 401"),
    ("graphql-error", "searchStacks", "GraphQL error: Cannot query field"),
    ("5xx", "searchStacks", "HTTP 502"),
])
@pytest.mark.usefixtures("keys")
def test_failures_are_errors_naming_the_operation(fake: FakeSpacelift, mode: str, operation: str,
                                                  reason: str) -> None:
    fake.mode = mode
    with pytest.raises(Unobservable) as caught:
        client(fake).stacks()
    assert caught.value.action == f"spacelift:{operation}"
    assert str(caught.value).startswith(f"spacelift:{operation} failed on {fake.url}/graphql: {reason}")
    assert KEY_SECRET not in str(caught.value)
    assert JWT not in str(caught.value)


def test_an_invalid_key_is_an_error_on_the_token_exchange(fake: FakeSpacelift,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TEST_KEY_ID", KEY_ID)
    monkeypatch.setenv("DR_TEST_KEY_SECRET", "not-the-secret-123")
    with pytest.raises(Unobservable) as caught:
        client(fake).stacks()
    assert caught.value.action == "spacelift:apiKeyUser"
    assert "unauthorized" in str(caught.value)
    assert "not-the-secret-123" not in str(caught.value)
    assert fake.operations() == ["apiKeyUser"]


def test_missing_environment_variables_are_named(fake: FakeSpacelift, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DR_TEST_KEY_ID", raising=False)
    monkeypatch.setenv("DR_TEST_KEY_SECRET", KEY_SECRET)
    with pytest.raises(Unobservable, match="environment variable DR_TEST_KEY_ID not set"):
        client(fake).stacks()
    assert fake.requests == []


def test_an_unreachable_endpoint_is_an_error() -> None:
    server = FakeSpacelift().start()
    url = server.url
    server.stop()
    api = SpaceliftApi(url, "X", "Y", timeout=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("X", KEY_ID)
        patch.setenv("Y", KEY_SECRET)
        with pytest.raises(Unobservable, match="endpoint unreachable"):
            api.aws_integrations()


@pytest.mark.usefixtures("keys")
def test_the_secret_and_the_token_are_given_to_the_redactor(fake: FakeSpacelift) -> None:
    redactor = Redactor()
    client(fake, redactor).stacks()
    assert KEY_SECRET not in redactor.text(f"key {KEY_SECRET} token {JWT}")
    assert JWT not in redactor.text(f"token {JWT}")


@pytest.mark.usefixtures("keys")
def test_a_server_that_repeats_its_cursor_is_an_error(fake: FakeSpacelift) -> None:
    original = fake.answer

    def stuck(path: str, body: dict, authorization: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        status, answer = original(path, body, authorization)
        page = (answer.get("data") or {}).get("searchStacks")
        if page:
            after = (body.get("variables") or {}).get("input", {}).get("after")
            page["pageInfo"] = {"endCursor": str(after or 0), "hasNextPage": True}
        return status, answer

    fake.answer = stuck  # type: ignore[method-assign]
    with pytest.raises(Unobservable, match="hasNextPage without a new endCursor"):
        client(fake).stacks()
