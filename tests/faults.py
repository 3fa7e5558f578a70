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


class FaultProxy:
    """A loopback HTTP proxy in front of the moto server that spoils the ``200`` answers of one operation.

    ``kind`` is ``"truncate"`` (half the body, the original Content-Length, then the connection closes, as a
    dropped connection looks on the wire), ``"empty"`` (a complete answer with no body) or ``"cut"`` (half
    the body with a Content-Length that matches it: well framed, not well formed). The operation is named
    by the header that :attr:`hook` stamps on every request (botocore knows the operation, the wire does
    not always say it), so ``fault`` can change between runs.
    """

    HEADER = "X-Dr-Test-Operation"

    def __init__(self, upstream: str) -> None:
        import http.client
        import http.server
        import urllib.parse

        self.upstream = urllib.parse.urlsplit(upstream)
        self.fault: tuple[str, str] | None = None  # (botocore event operation, kind)
        self.spoiled = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != proxy.HEADER.lower()}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                connection.close()
                kind = None
                if proxy.fault is not None and self.headers.get(proxy.HEADER) == proxy.fault[0] \
                        and answer.status == 200:
                    kind = proxy.fault[1]
                    with proxy._lock:
                        proxy.spoiled += 1
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(name, value)
                if kind == "truncate":
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.close_connection = True
                    return
                if kind == "empty":
                    payload = b""
                elif kind == "cut":
                    payload = payload[: len(payload) // 2]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_PUT = _forward

        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def hook(self) -> Hook:
        """Stamp each request with its operation (``iot.ListCertificates``) for the proxy to recognise."""

        def stamp(request: Any, event_name: str, **_: Any) -> None:
            request.headers[self.HEADER] = event_name.split(".", 1)[1]

        return "before-send", stamp
