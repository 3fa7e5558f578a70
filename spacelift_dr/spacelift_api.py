"""A small read-only client for the Spacelift GraphQL API (what DR-CON-01 and DR-CON-05 need).

``POST <endpoint>/graphql``. The API key (id and secret, from the environment variables the config
names) is exchanged for a JWT with the ``apiKeyUser`` mutation, the only mutation sent, which changes
nothing; every other request is a query with ``Authorization: Bearer <jwt>``. Stacks come from
``searchStacks`` (cursor pagination), AWS integrations from ``awsIntegrations``.

Every failure is :class:`Unobservable` naming the GraphQL operation (``spacelift:searchStacks``) and the
endpoint; neither the key secret nor the JWT ever appears in a message.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .aws import record_action, remember
from .errors import Unobservable

TOKEN_MUTATION = """
mutation DrSuiteToken($id: ID!, $secret: String!) {
  apiKeyUser(id: $id, secret: $secret) { jwt }
}"""

STACKS_QUERY = """
query DrSuiteStacks($input: SearchInput!) {
  searchStacks(input: $input) {
    edges {
      cursor
      node {
        id
        name
        managesStateFile
        vendorConfig {
          __typename
          ... on StackConfigVendorTerragrunt { useStateManagement }
        }
        attachedAwsIntegrations { integrationId }
        integrations { aws { assumedRoleArn } }
      }
    }
    pageInfo { endCursor hasNextPage }
  }
}"""

INTEGRATIONS_QUERY = """
query DrSuiteAwsIntegrations {
  awsIntegrations { id name roleArn }
}"""

def is_loopback(host: str | None) -> bool:
    """An address of this machine (an IP literal, or ``localhost``), never a name that merely starts so."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_problem(endpoint: str) -> str | None:
    """Why the API key must not be sent to ``endpoint``: only HTTPS (plain HTTP to loopback, for tests)."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return None
    return "not an https:// URL: the API key secret would cross the network in clear"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered, not followed: the bearer token and the key secret stay with the endpoint
    the config names, and another host's answer is never taken for Spacelift's."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)

PAGE_SIZE = 50
MAX_PAGES = 10_000  # a server that keeps saying hasNextPage with the same cursor must not loop forever


@dataclass(frozen=True)
class Stack:
    """A stack as the continuity checks see it."""

    id: str
    name: str
    manages_state_file: bool
    vendor: str
    terragrunt_state_management: bool
    integration_ids: tuple[str, ...]
    legacy_role_arn: str | None

    @classmethod
    def from_api(cls, node: dict[str, Any]) -> Stack:
        vendor = node.get("vendorConfig") or {}
        if not isinstance(node.get("id"), str) or not isinstance(node.get("managesStateFile"), bool):
            raise ValueError("a stack without id or managesStateFile")
        legacy = ((node.get("integrations") or {}).get("aws") or {}).get("assumedRoleArn")
        return cls(
            id=node["id"],
            name=str(node.get("name") or node["id"]),
            manages_state_file=node["managesStateFile"],
            vendor=str(vendor.get("__typename") or "unknown"),
            terragrunt_state_management=vendor.get("useStateManagement") is True,
            integration_ids=tuple(str(a.get("integrationId")) for a in node.get("attachedAwsIntegrations") or []
                                  if isinstance(a, dict) and a.get("integrationId")),
            legacy_role_arn=legacy if isinstance(legacy, str) and legacy else None,
        )

    @property
    def spacelift_manages_state(self) -> bool:
        """Spacelift holds the state: ``managesStateFile``, or a Terragrunt stack using state management."""
        return self.manages_state_file or self.terragrunt_state_management

    def deployment_roles(self, integrations: dict[str, str]) -> tuple[list[str], list[str]]:
        """(role ARNs this stack deploys with, attached integration ids that no integration answers for)."""
        roles: list[str] = []
        unknown: list[str] = []
        for integration in self.integration_ids:
            if integration in integrations:
                roles.append(integrations[integration])
            else:
                unknown.append(integration)
        if self.legacy_role_arn:
            roles.append(self.legacy_role_arn)
        return sorted(set(roles)), unknown

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "managesStateFile": self.manages_state_file, "vendor": self.vendor,
                "useStateManagement": self.terragrunt_state_management,
                "attachedAwsIntegrations": list(self.integration_ids), "legacyRoleArn": self.legacy_role_arn}


class SpaceliftApi:
    """The configured Spacelift API; each read is made once per run (errors included)."""

    def __init__(self, endpoint: str, key_id_env: str, key_secret_env: str, timeout: float = 20,
                 redact: Any = None) -> None:
        self.endpoint = endpoint.rstrip("/").removesuffix("/graphql")
        self._key_id_env = key_id_env
        self._key_secret_env = key_secret_env
        self._timeout = timeout
        self._redact = redact  # callable registering a secret with the run's redactor
        self._jwt: str | None = None
        self._cache: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"{self.endpoint}/graphql"

    def _error(self, operation: str, reason: str) -> Unobservable:
        error = Unobservable(f"spacelift:{operation}", self.url, reason)
        error.args = (f"spacelift:{operation} failed on {self.url}: {reason}",)
        return error

    def _post(self, operation: str, query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "spacelift-dr-suite"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        problem = endpoint_problem(self.url)
        if problem:
            raise self._error(operation, problem)
        record_action(f"spacelift:{operation}", self.url)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self._timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            if 300 <= error.code < 400:
                target = urllib.parse.urlsplit(error.headers.get("Location") or "").hostname or "elsewhere"
                raise self._error(operation, f"HTTP {error.code}: the endpoint redirects to {target}; not "
                                             f"followed (credentials go only to the configured endpoint)") from None
            if error.code in (401, 403):
                raise self._error(operation, f"HTTP {error.code}: the API key or its token was rejected "
                                             f"(invalid, expired or without access)") from None
            raise self._error(operation, f"HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise self._error(operation, f"endpoint unreachable ({reason})") from None
        try:
            document = json.loads(raw)
        except ValueError:
            raise self._error(operation, "the answer is not JSON") from None
        if not isinstance(document, dict):
            raise self._error(operation, "the answer is not a GraphQL response")
        errors = document.get("errors")
        if errors:
            messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
            raise self._error(operation, f"GraphQL error: {messages[:300]}")
        data = document.get("data")
        if not isinstance(data, dict):
            raise self._error(operation, "the answer has no data")
        return data

    def _token(self) -> str:
        if self._jwt is not None:
            return self._jwt
        key_id = os.environ.get(self._key_id_env, "")
        secret = os.environ.get(self._key_secret_env, "")
        missing = [name for name, value in ((self._key_id_env, key_id), (self._key_secret_env, secret)) if not value]
        if missing:
            raise self._error("apiKeyUser", f"environment variable {' and '.join(missing)} not set "
                                            f"(continuity.spacelift_api names it)")
        if self._redact is not None:
            self._redact(secret)
        data = self._post("apiKeyUser", TOKEN_MUTATION, {"id": key_id, "secret": secret}, None)
        jwt = (data.get("apiKeyUser") or {}).get("jwt") if isinstance(data.get("apiKeyUser"), dict) else None
        if not isinstance(jwt, str) or not jwt:
            raise self._error("apiKeyUser", "the API key was not accepted (no token returned)")
        if self._redact is not None:
            self._redact(jwt)
        self._jwt = jwt
        return jwt

    def _once(self, name: str, fetch: Any) -> Any:
        return remember(self._cache, name, fetch)

    def stacks(self) -> list[Stack]:
        """Every stack the key can see (``searchStacks``, all pages)."""
        return list(self._once("stacks", self._fetch_stacks))

    def aws_integrations(self) -> dict[str, str]:
        """AWS integration id → role ARN (``awsIntegrations``)."""
        return dict(self._once("integrations", self._fetch_integrations))

    def _fetch_stacks(self) -> list[Stack]:
        token = self._token()
        stacks: list[Stack] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            data = self._post("searchStacks", STACKS_QUERY, {"input": {"first": PAGE_SIZE, "after": cursor}}, token)
            page = data.get("searchStacks")
            if not isinstance(page, dict) or not isinstance(page.get("edges"), list):
                raise self._error("searchStacks", "the answer has no searchStacks.edges")
            try:
                stacks.extend(Stack.from_api(edge["node"]) for edge in page["edges"])
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise self._error("searchStacks", f"unexpected stack in the answer ({type(error).__name__})") \
                    from None
            info = page.get("pageInfo")
            if not isinstance(info, dict) or not isinstance(info.get("hasNextPage"), bool):
                # Without it, whether stacks are missing cannot be told.
                raise self._error("searchStacks", "the answer has no pageInfo.hasNextPage")
            if not info["hasNextPage"]:
                return stacks
            following = info.get("endCursor")
            if not isinstance(following, str) or following == cursor:
                raise self._error("searchStacks", "hasNextPage without a new endCursor")
            cursor = following
        raise self._error("searchStacks", f"more than {MAX_PAGES} pages")

    def _fetch_integrations(self) -> dict[str, str]:
        token = self._token()
        data = self._post("awsIntegrations", INTEGRATIONS_QUERY, {}, token)
        items = data.get("awsIntegrations")
        if not isinstance(items, list):
            raise self._error("awsIntegrations", "the answer has no awsIntegrations list")
        found: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict) or not item.get("id") or not isinstance(item.get("roleArn"), str):
                raise self._error("awsIntegrations", "an integration without id or roleArn")
            found[str(item["id"])] = item["roleArn"]
        return found
