"""Faults injected in front of the moto server through botocore's before-send event: the request is
answered with a throttling error or a 5xx without reaching the server, a bounded number of times, so
botocore's own retry logic (backoff included) is what is exercised."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse

Hook = tuple[str, Callable[..., Any]]


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> list[bytes]:
        return [self._payload]


def _error_body(service: str, code: str) -> tuple[bytes, str]:
    """An error in the service's own wire protocol, so botocore parses it as the real service's."""
    protocol = botocore.session.get_session().get_service_model(service).metadata["protocol"]
    if protocol in ("json", "rest-json"):
        return json.dumps({"__type": code, "message": f"injected {code}"}).encode(), "application/x-amz-json-1.1"
    if protocol == "query":
        return (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected {code}</Message>"
                f"</Error><RequestId>fault</RequestId></ErrorResponse>").encode(), "text/xml"
    return (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>injected {code}</Message><RequestId>fault</RequestId></Error>").encode(), "application/xml"


class Fault:
    """Answer the first ``times`` sends of ``service.operation`` with ``status``/``code`` (None: always)."""

    def __init__(self, service: str, operation: str, status: int = 503, code: str = "ServiceUnavailable",
                 times: int | None = 2) -> None:
        self.event = f"before-send.{service}.{operation}"
        self.service = service
        self.status = status
        self.code = code
        self.times = times
        self.injected = 0
        self.passed = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        with self._lock:
            if self.times is not None and self.injected >= self.times:
                self.passed += 1
                return None
            self.injected += 1
        body, content_type = _error_body(self.service, self.code)
        headers = {"Content-Type": content_type, "x-amz-request-id": "fault"}
        return AWSResponse(request.url, self.status, headers, _Body(body))

    @property
    def hook(self) -> Hook:
        return self.event, self
