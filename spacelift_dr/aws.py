"""Read-only, cached, counted access to AWS: the only way the suite talks to AWS.

Every operation goes through :class:`AwsAccess`. It refuses anything outside the read-only allowlist
before a request is built (and a botocore hook refuses it again before it is sent), makes each distinct
read once per run, counts every call, and turns every failure into :class:`Unobservable` naming the IAM
action and the resource. Credentials come from the standard chain; ``AWS_ENDPOINT_URL`` is honoured by
botocore itself and never overridden.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import botocore.exceptions
import botocore.parsers
import botocore.session
from botocore import xform_name
from botocore.config import Config as BotoConfig

from .errors import ReadOnlyViolation, Unobservable

# The read operations the checks make, per service (botocore service name → operation names).
# Anything else is refused before it is sent. Every name starts with Get, Describe, List or Head;
# a test holds the list to that.
READ_ONLY_OPERATIONS: dict[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity"}),
    "ecs": frozenset({"DescribeServices", "DescribeTaskDefinition"}),
    "s3": frozenset({
        "HeadBucket", "GetBucketLocation", "GetBucketVersioning", "GetBucketReplication",
        "GetBucketEncryption",
    }),
    "kms": frozenset({"DescribeKey", "GetKeyRotationStatus"}),
    "rds": frozenset({
        "DescribeDBClusters", "DescribeDBInstances", "DescribeGlobalClusters",
        "DescribeDBClusterSnapshots", "DescribeDBSnapshots", "DescribeDBInstanceAutomatedBackups",
    }),
    "backup": frozenset({"ListBackupPlans", "GetBackupPlan", "ListBackupSelections", "GetBackupSelection",
                         "DescribeRegionSettings"}),
    "secretsmanager": frozenset({"DescribeSecret"}),
    "sqs": frozenset({"GetQueueAttributes"}),
    "route53": frozenset({"ListHostedZones", "ListResourceRecordSets"}),
    "elbv2": frozenset({"DescribeLoadBalancers", "DescribeListeners", "DescribeListenerCertificates",
                        "DescribeTargetGroups"}),
    "acm": frozenset({"DescribeCertificate"}),
    "iot": frozenset({"ListDomainConfigurations", "DescribeDomainConfiguration", "ListCertificates",
                      "DescribeCertificate"}),
    "ecr": frozenset({"DescribeRegistry"}),
    "iam": frozenset({"GetRole", "ListAttachedRolePolicies", "ListRolePolicies"}),
}

# Reading a secret's value is never on the list: only a config with encryption.allow_reading_rsa_secret
# true adds this, so that DR-RSA-01/02 can fingerprint the RSA key the services take from a secret.
SECRET_VALUE_READ: dict[str, Collection[str]] = {"secretsmanager": frozenset({"GetSecretValue"})}

# Where the IAM action differs from the API operation name (S3's older naming).
_IAM_ACTION = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
}
_IAM_PREFIX = {"elbv2": "elasticloadbalancing"}

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
           "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
           "403", "HTTP 403", "Forbidden", "SignatureDoesNotMatch", "AllAccessDisabled"}
_THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
              "TooManyRequestsException", "SlowDown", "RequestThrottled", "PriorRequestNotComplete"}


class IncompleteAnswer(Exception):
    """A ``2xx`` answer that is not a complete, well-formed answer of the operation's output shape."""


def _body_members(shape: Any) -> list[str]:
    """The output members that travel in the body (not in headers or the status line)."""
    if shape is None or shape.type_name != "structure":
        return []
    payload = shape.serialization.get("payload")
    if payload:
        return [payload]
    return [name for name, member in shape.members.items()
            if member.serialization.get("location") not in {"header", "headers", "statusCode"}]


def check_answer_framing(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """Refuse, before parsing, a success answer whose body is cut short, missing or not JSON where the
    protocol says JSON. botocore itself would parse a truncated JSON body as ``{"message": …}`` and an
    empty one as ``{}``: an answer with nothing in it, which the checks would read as "there is none"."""
    status = response_dict.get("status_code", 0)
    if not 200 <= status < 300 or operation_model.has_streaming_output:
        return
    if operation_model.http.get("method") == "HEAD":
        return  # a HEAD answer's Content-Length describes a body it never sends
    body = response_dict.get("body") or b""
    headers = response_dict.get("headers") or {}
    declared = headers.get("content-length") or headers.get("Content-Length")
    if declared is not None and str(declared).isdigit() and int(declared) != len(body) \
            and headers.get("content-encoding", headers.get("Content-Encoding", "")) in ("", "identity"):
        raise IncompleteAnswer(f"answer cut short: {len(body)} of {declared} bytes")
    if not _body_members(operation_model.output_shape):
        return
    if not body.strip():
        raise IncompleteAnswer("empty answer")
    if operation_model.metadata.get("protocol") in ("json", "rest-json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            raise IncompleteAnswer("answer is not well-formed JSON") from None
        if not isinstance(parsed, dict):
            raise IncompleteAnswer("answer is not a JSON object")


_COLLECTIONS = {"structure", "list", "map"}


def missing_required(shape: Any, value: Any, path: str = "") -> list[str]:
    """Where ``value`` (a parsed answer) lacks members its shape marks required, recursively. At the top
    level only the data (lists, maps, structures) counts: some services leave out required pagination
    scalars (Route 53's ``Marker`` on a first page), which say nothing about the data."""
    if shape is None or value is None:
        return []
    if shape.type_name == "structure" and isinstance(value, dict):
        missing = [f"{path}{name}" for name in shape.required_members if name not in value
                   and (path or shape.members[name].type_name in _COLLECTIONS)]
        for name, member in shape.members.items():
            if name in value:
                missing += missing_required(member, value[name], f"{path}{name}.")
        return missing
    if shape.type_name == "list" and isinstance(value, list):
        return [m for i, item in enumerate(value) for m in missing_required(shape.member, item, f"{path[:-1]}[{i}].")]
    if shape.type_name == "map" and isinstance(value, dict):
        return [m for k, item in value.items() for m in missing_required(shape.value, item, f"{path}{k}.")]
    return []


def check_answer_shape(client: Any, operation: str, parsed: dict[str, Any]) -> None:
    """Refuse a success answer that lacks members the operation's output shape requires."""
    missing = missing_required(client.meta.service_model.operation_model(operation).output_shape, parsed)
    if missing:
        raise IncompleteAnswer(f"answer lacks required member(s) {', '.join(missing[:5])}")


def _retry_mode() -> Literal["legacy", "standard", "adaptive"]:
    mode = os.environ.get("AWS_RETRY_MODE", "adaptive")
    if mode == "legacy":
        return "legacy"
    return "standard" if mode == "standard" else "adaptive"


def _max_attempts(default: int) -> int:
    value = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def iam_action(service: str, operation: str) -> str:
    """The IAM action that allows ``operation``: what an error message and the policy name."""
    return _IAM_ACTION.get((service, operation), f"{_IAM_PREFIX.get(service, service)}:{operation}")


@dataclass
class CallRecord:
    """What one check's verdict rests on: the reads it made (sent, or answered from the run cache)."""

    actions: list[dict[str, str]] = field(default_factory=list)

    def add(self, action: str, resource: str, region: str) -> None:
        entry = {"action": action, "resource": resource, "region": region}
        if entry not in self.actions:
            self.actions.append(entry)


_current_record: ContextVar[CallRecord | None] = ContextVar("dr_call_record", default=None)


@contextmanager
def recording(record: CallRecord) -> Iterator[CallRecord]:
    """Attribute the reads made inside the block to ``record`` (one check's evidence)."""
    token = _current_record.set(record)
    try:
        yield record
    finally:
        _current_record.reset(token)


def record_action(action: str, resource: str, region: str = "") -> None:
    """Attribute a read outside AWS (a database query, a host command) to the running check's evidence."""
    record = _current_record.get()
    if record is not None:
        record.add(action, resource, region)


@dataclass
class CallCounter:
    """Calls sent to AWS per IAM action, and retries botocore made on top of them."""

    sent: Counter[str] = field(default_factory=Counter)
    cache_hits: int = 0
    retries: int = 0
    distinct: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, action: str, key: str, retries: int) -> None:
        with self._lock:
            self.sent[action] += 1
            self.distinct.add(key)
            self.retries += retries

    def hit(self) -> None:
        with self._lock:
            self.cache_hits += 1

    def merge(self, sent: dict[str, int], distinct: Collection[str], cache_hits: int, retries: int) -> None:
        """Add another process's counts (an xdist worker's): a read both made counts twice in ``sent``
        and once in ``distinct``."""
        with self._lock:
            self.sent.update(sent)
            self.distinct.update(distinct)
            self.cache_hits += cache_hits
            self.retries += retries

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def summary(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "distinct": len(self.distinct),
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "by_action": dict(sorted(self.sent.items())),
        }


EventHook = tuple[str, Callable[..., Any]]

_SHARED_LOADER: list[Any] = []
_SHARED_LOADER_LOCK = threading.Lock()


def aws_session(profile_name: str | None = None, **credentials: str) -> boto3.Session:
    """A boto3 session whose API descriptions are shared with every other session of the process: each
    installation needs credentials of its own, not its own copy of the service models (some 40 MB)."""
    core = botocore.session.Session()
    if profile_name is not None and profile_name not in core.available_profiles:
        raise botocore.exceptions.ProfileNotFound(profile=profile_name)
    with _SHARED_LOADER_LOCK:
        if _SHARED_LOADER:
            core.register_component("data_loader", _SHARED_LOADER[0])
        else:
            _SHARED_LOADER.append(core.get_component("data_loader"))
    session = boto3.Session(botocore_session=core, profile_name=profile_name, **credentials)
    paths = session._loader.search_paths  # boto3 appends its own data path once per session
    paths[:] = list(dict.fromkeys(paths))
    return session

# At most this many requests in flight per service and run: botocore's connection pool per client is
# 10, and AWS throttles per service, so a wide prefetch queues here rather than in retries.
PER_SERVICE_CONCURRENCY = 10


class AwsAccess:
    """Read-only AWS access for one run: client factory, interlock, cache and counter."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        max_attempts: int = 8,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        extra_read_operations: dict[str, Collection[str]] | None = None,
    ) -> None:
        self._session = session or aws_session()
        # Only the demo passes an endpoint; otherwise botocore reads AWS_ENDPOINT_URL itself.
        self._endpoint_url = endpoint_url
        # AWS_RETRY_MODE and AWS_MAX_ATTEMPTS are the standard knobs; they win over the defaults here.
        self._config = BotoConfig(
            retries={"mode": _retry_mode(), "max_attempts": _max_attempts(max_attempts)},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra="spacelift-dr-suite",
        )
        self._allowed = {svc: set(ops) for svc, ops in READ_ONLY_OPERATIONS.items()}
        for svc, ops in (extra_read_operations or {}).items():
            self._allowed.setdefault(svc, set()).update(ops)
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._cache: dict[str, Future[Any]] = {}
        self._cache_lock = threading.Lock()
        self._event_hooks: list[EventHook] = []
        self._service_slots: dict[str, threading.BoundedSemaphore] = {}
        self._interrupted = threading.Event()
        self.calls = CallCounter()

    def interrupt(self) -> None:
        """The run was interrupted (Ctrl-C): no further read is sent; the ones in flight end on their own."""
        self._interrupted.set()

    def release(self) -> None:
        """Drop the clients and the run cache (after the installation's last check): many installations
        in one process then hold the memory of the few in flight, not of all. The counts stay."""
        with self._clients_lock:
            self._clients.clear()
        with self._cache_lock:
            self._cache.clear()

    # -- clients ---------------------------------------------------------------------------------

    def add_event_hook(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client (tests and the demo use after-call)."""
        self._event_hooks.append((event, handler))
        for client in self._clients.values():
            client.meta.events.register(event, handler)

    def client(self, service: str, region: str) -> Any:
        with self._clients_lock:
            key = (service, region)
            if key not in self._clients:
                kwargs: dict[str, Any] = {"region_name": region, "config": self._config}
                if self._endpoint_url:
                    kwargs["endpoint_url"] = self._endpoint_url
                client = self._session.client(service, **kwargs)
                client.meta.events.register("before-call", self._refuse_writes(service))
                client.meta.events.register("before-parse", check_answer_framing)
                for event, handler in self._event_hooks:
                    client.meta.events.register(event, handler)
                self._clients[key] = client
            return self._clients[key]

    def _refuse_writes(self, service: str) -> Callable[..., None]:
        def guard(model: Any, **_: Any) -> None:
            if model.name not in self._allowed.get(service, set()):
                raise ReadOnlyViolation(iam_action(service, model.name))

        return guard

    # -- reads -----------------------------------------------------------------------------------

    def call(
        self,
        service: str,
        region: str,
        operation: str,
        *,
        resource: str,
        absent: Collection[str] = (),
        **params: Any,
    ) -> dict[str, Any] | None:
        """Make one read (once per run). Returns None when the error code is one of ``absent``."""
        return self._once(service, region, operation, resource, absent, params, paginate_key=None)

    def paginate(
        self,
        service: str,
        region: str,
        operation: str,
        result_key: str,
        *,
        resource: str,
        absent: Collection[str] = (),
        **params: Any,
    ) -> list[Any] | None:
        """All items of a paginated read (once per run), or None when the error code is in ``absent``."""
        return self._once(service, region, operation, resource, absent, params, paginate_key=result_key)

    def _once(
        self,
        service: str,
        region: str,
        operation: str,
        resource: str,
        absent: Collection[str],
        params: dict[str, Any],
        paginate_key: str | None,
    ) -> Any:
        action = iam_action(service, operation)
        if operation not in self._allowed.get(service, set()):
            raise ReadOnlyViolation(action)
        record = _current_record.get()
        if record is not None:
            record.add(action, resource, region)
        key = json.dumps([service, region, operation, paginate_key, params], sort_keys=True, default=str)
        with self._cache_lock:
            future = self._cache.get(key)
            owner = future is None
            if owner:
                future = self._cache[key] = Future()
        assert future is not None
        if not owner:
            self.calls.hit()
            return future.result()
        if self._interrupted.is_set():
            with self._cache_lock:
                self._cache.pop(key, None)
            error = Unobservable(action, resource, "not sent: the run was interrupted")
            future.set_exception(error)
            raise error
        try:
            with self._slot(service):
                result = self._send(service, region, operation, resource, absent, params, paginate_key, key)
        except Unobservable as error:
            future.set_exception(error)
            raise
        except BaseException as error:  # a suite bug or an interrupt: do not cache it as an observation
            with self._cache_lock:
                self._cache.pop(key, None)
            future.set_exception(error)
            raise
        future.set_result(result)
        return result

    def _slot(self, service: str) -> threading.BoundedSemaphore:
        with self._clients_lock:
            if service not in self._service_slots:
                self._service_slots[service] = threading.BoundedSemaphore(PER_SERVICE_CONCURRENCY)
            return self._service_slots[service]

    def _send(
        self,
        service: str,
        region: str,
        operation: str,
        resource: str,
        absent: Collection[str],
        params: dict[str, Any],
        paginate_key: str | None,
        key: str,
    ) -> Any:
        action = iam_action(service, operation)
        client = self.client(service, region)
        method = xform_name(operation)
        try:
            if paginate_key is None:
                response = getattr(client, method)(**params)
                check_answer_shape(client, operation, response)
                self.calls.count(action, key, response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
                return response
            items: list[Any] = []
            for number, page in enumerate(client.get_paginator(method).paginate(**params)):
                check_answer_shape(client, operation, page)
                # Each page is a call of its own: a distinct read.
                self.calls.count(action, f"{key}#{number}", page.get("ResponseMetadata", {}).get("RetryAttempts", 0))
                items.extend(page.get(paginate_key, []))
            return items
        except botocore.exceptions.ClientError as error:
            self.calls.count(action, key, 0)
            code = str(error.response.get("Error", {}).get("Code") or
                       f"HTTP {error.response.get('ResponseMetadata', {}).get('HTTPStatusCode', '?')}")
            if code in absent:
                return None
            raise unobservable(action, resource, code, _message(error)) from None
        except ReadOnlyViolation:
            raise
        except IncompleteAnswer as error:
            self.calls.count(action, key, 0)
            raise Unobservable(action, resource, f"incomplete answer ({error})") from None
        except botocore.parsers.ResponseParserError as error:
            self.calls.count(action, key, 0)
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise Unobservable(action, resource, f"malformed answer ({first_line})") from None
        except botocore.exceptions.NoCredentialsError:
            raise Unobservable(action, resource, "no AWS credentials found in the standard credential chain") \
                from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as error:
            self.calls.count(action, key, 0)
            raise Unobservable(action, resource, f"endpoint unreachable ({type(error).__name__})") from None
        except botocore.exceptions.BotoCoreError as error:
            raise Unobservable(action, resource, f"{type(error).__name__}: {error}") from None


def _message(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")).strip()


def unobservable(action: str, resource: str, code: str, message: str = "") -> Unobservable:
    """The ERROR for a failed read, worded for the SRE: ``s3:X denied on bucket (AccessDenied: …)``."""
    detail = f"{code}: {message}" if message else code
    if code in _DENIED:
        error = Unobservable(action, resource, f"denied ({detail})")
        error.args = (f"{action} denied on {resource} ({detail})",)
    elif code in _THROTTLED:
        error = Unobservable(action, resource, f"throttled past retries ({detail})")
        error.args = (f"{action} throttled past retries on {resource} ({detail})",)
    else:
        error = Unobservable(action, resource, detail)
    return error
