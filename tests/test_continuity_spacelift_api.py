"""The Spacelift API client against the fake API on loopback: token exchange, pagination, and every
failure as an ERROR naming the GraphQL operation, never with the key secret or the JWT in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.config import parse_config
from spacelift_dr.errors import ConfigError, Unobservable
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


# -- hostile endpoints and answers --------------------------------------------------------------------


class _Redirector:
    """An endpoint on loopback that answers every request with a redirect to ``target``."""

    def __init__(self, target: str, status: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(status)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.usefixtures("keys")
def test_a_redirect_is_not_followed_with_credentials(fake: FakeSpacelift, status: int) -> None:
    redirector = _Redirector(fake.url + "/graphql", status)  # `fake` stands for another host
    try:
        with pytest.raises(Unobservable, match=f"HTTP {status}: the endpoint redirects to"):
            SpaceliftApi(redirector.url, "DR_TEST_KEY_ID", "DR_TEST_KEY_SECRET", timeout=5).stacks()
    finally:
        redirector.stop()
    assert fake.requests == []  # neither the key secret nor a token reached the other host


@pytest.mark.parametrize("endpoint", ["http://acme.app.spacelift.io", "http://10.0.0.1:8080", "ftp://acme.example",
                                      "http://127.0.0.1.example.com"])
def test_the_key_is_sent_only_over_https(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", KEY_ID)
    monkeypatch.setenv("Y", KEY_SECRET)
    with pytest.raises(Unobservable, match="not an https:// URL"):
        SpaceliftApi(endpoint, "X", "Y", timeout=1).stacks()
    with pytest.raises(ConfigError, match="over HTTPS"):
        parse_config({"installation": {"name": "x", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
                                       "discover": {"ecs_cluster": "spacelift"}},
                      "continuity": {"spacelift_api": {"endpoint": endpoint}}}, "dr.yaml")


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["edges", "node", "id", "managesStateFile", "pageInfo", "hasNextPage",
                                          "endCursor", "vendorConfig", "integrations", "aws", "cursor"]),
                         inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def shapeless() -> Iterator[FakeSpacelift]:
    server = FakeSpacelift(stacks=[stack("network")]).start()
    yield server
    server.stop()


@given(page=_JSON)
def test_an_answer_of_another_shape_is_an_error(shapeless: FakeSpacelift, page: object) -> None:
    original = FakeSpacelift.answer

    def odd(path: str, body: dict, authorization: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        status, answer = original(shapeless, path, body, authorization)
        if "searchStacks" in str(body.get("query")):
            return 200, {"data": {"searchStacks": page}}
        return status, answer

    shapeless.answer = odd  # type: ignore[method-assign]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("X", KEY_ID)
        patch.setenv("Y", KEY_SECRET)
        try:
            stacks = SpaceliftApi(shapeless.url, "X", "Y", timeout=5).stacks()
        except Unobservable:
            return
    # Accepted only as a complete answer: a list of edges with nodes and a definite last page.
    assert isinstance(page, dict)
    assert isinstance(page.get("edges"), list)
    assert page["pageInfo"]["hasNextPage"] is False
    assert len(stacks) == len(page["edges"])
