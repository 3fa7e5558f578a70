"""A fake Spacelift GraphQL API on 127.0.0.1 (threaded, port chosen by the OS) for the tests.

It implements exactly what the suite sends: the ``apiKeyUser`` mutation (API key id and secret → JWT),
``searchStacks`` with cursor pagination (at most ``page_size`` stacks per page whatever ``first`` asks)
and ``awsIntegrations``, with a bearer token on every query. ``mode`` breaks it in the ways a real API
breaks: ``expired`` (the token is refused with 401), ``graphql-error`` (searchStacks answers with
``errors``), ``5xx`` (searchStacks answers 502).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY_ID = "01HDRSUITETESTKEY0000000000"
KEY_SECRET = "fake-spacelift-secret-9f8e7d6c5b4a"
JWT = "eyJhbGciOiJIUzI1NiJ9.fake-jwt-for-the-dr-suite.c2lnbmF0dXJl"


def stack(stack_id: str, manages_state: bool = False, integrations: tuple[str, ...] = (),
          legacy_role: str | None = None, terragrunt_state: bool | None = None) -> dict[str, Any]:
    """A ``searchStacks`` node as Spacelift returns it."""
    vendor: dict[str, Any] = {"__typename": "StackConfigVendorTerraform"}
    if terragrunt_state is not None:
        vendor = {"__typename": "StackConfigVendorTerragrunt", "useStateManagement": terragrunt_state}
    return {
        "id": stack_id,
        "name": stack_id.replace("-", " ").title(),
        "managesStateFile": manages_state,
        "vendorConfig": vendor,
        "attachedAwsIntegrations": [{"integrationId": i} for i in integrations],
        "integrations": {"aws": {"assumedRoleArn": legacy_role}},
    }


@dataclass
class FakeSpacelift:
    stacks: list[dict[str, Any]] = field(default_factory=list)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeSpacelift:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = fake.answer(self.path, body, self.headers.get("Authorization", ""))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def operations(self) -> list[str]:
        return [r["operation"] for r in self.requests]

    def answer(self, path: str, body: dict[str, Any], authorization: str) -> tuple[int, dict[str, Any]]:
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        operation = next((op for op in ("apiKeyUser", "searchStacks", "awsIntegrations") if op in query), "unknown")
        self.requests.append({"operation": operation, "path": path, "variables": variables,
                              "authorization": authorization})
        if path != "/graphql":
            return 404, {"message": "not found"}
        if operation == "apiKeyUser":
            if variables.get("id") != KEY_ID or variables.get("secret") != KEY_SECRET:
                return 200, {"data": {"apiKeyUser": None}, "errors": [{"message": "unauthorized"}]}
            return 200, {"data": {"apiKeyUser": {"jwt": JWT}}}
        if authorization != f"Bearer {JWT}" or self.mode == "expired":
            return 401, {"errors": [{"message": "token expired"}]}
        if operation == "searchStacks":
            if self.mode == "5xx":
                return 502, {"message": "bad gateway"}
            if self.mode == "graphql-error":
                return 200, {"data": None, "errors": [{"message": "Cannot query field \"useStateManagement\""}]}
            search = variables.get("input") or {}
            start = int(search.get("after") or 0)
            size = min(int(search.get("first") or 50), self.page_size)
            page = self.stacks[start:start + size]
            end = start + len(page)
            return 200, {"data": {"searchStacks": {
                "edges": [{"cursor": str(start + i + 1), "node": node} for i, node in enumerate(page)],
                "pageInfo": {"endCursor": str(end), "hasNextPage": end < len(self.stacks)}}}}
        if operation == "awsIntegrations":
            return 200, {"data": {"awsIntegrations": self.integrations}}
        return 200, {"data": None, "errors": [{"message": "unknown operation"}]}
