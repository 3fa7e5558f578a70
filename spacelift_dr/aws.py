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
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, cast, overload
from urllib.parse import urlsplit

from .errors import ReadOnlyViolation, Unobservable

# botocore is imported where a session or client is made, not here: `pytest --help` and the
# collection of the checks import this module and read no AWS (tests/test_startup.py pins it).
if TYPE_CHECKING:
    import botocore.exceptions
    import botocore.session

T = TypeVar("T")

# The read operations the checks make, per service (botocore service name → operation names).
# Anything else is refused before it is sent. Every name starts with Get, Describe, List or Head (and
# iam:SimulatePrincipalPolicy, which only evaluates policies); a test holds the list to that.
READ_ONLY_OPERATIONS: dict[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity"}),
    "ecs": frozenset({"DescribeServices", "DescribeTaskDefinition"}),
    "eks": frozenset({"DescribeCluster"}),
    "s3": frozenset({
        "HeadBucket", "GetBucketLocation", "GetBucketVersioning", "GetBucketReplication",
        "GetBucketEncryption", "GetBucketLifecycleConfiguration",
    }),
    "kms": frozenset({"DescribeKey", "GetKeyRotationStatus"}),
    "rds": frozenset({
        "DescribeDBClusters", "DescribeDBInstances", "DescribeGlobalClusters",
        "DescribeDBClusterSnapshots", "DescribeDBSnapshots", "DescribeDBInstanceAutomatedBackups",
    }),
    "backup": frozenset({"ListBackupPlans", "GetBackupPlan", "ListBackupSelections", "GetBackupSelection",
                         "DescribeRegionSettings", "DescribeBackupVault", "ListRecoveryPointsByBackupVault"}),
    "cloudwatch": frozenset({"GetMetricData"}),
    "secretsmanager": frozenset({"DescribeSecret"}),
    "ssm": frozenset({"DescribeParameters"}),
    "sqs": frozenset({"GetQueueAttributes"}),
    "route53": frozenset({"ListHostedZones", "ListResourceRecordSets"}),
    "elbv2": frozenset({"DescribeLoadBalancers", "DescribeListeners", "DescribeListenerCertificates",
                        "DescribeTargetGroups"}),
    "acm": frozenset({"DescribeCertificate", "ListCertificates"}),
    "iot": frozenset({"ListDomainConfigurations", "DescribeDomainConfiguration", "ListCertificates",
                      "DescribeCertificate", "ListAttachedPolicies", "DescribeEndpoint"}),
    "cloudfront": frozenset({"ListDistributions"}),
    "globalaccelerator": frozenset({"ListAccelerators"}),
    "ecr": frozenset({"DescribeRegistry", "DescribeImages"}),
    # SimulatePrincipalPolicy evaluates a role's policies for given actions and resources; it changes nothing.
    "iam": frozenset({"GetRole", "ListAttachedRolePolicies", "ListRolePolicies", "SimulatePrincipalPolicy"}),
    "dynamodb": frozenset({"DescribeTable"}),
}

# Reading a secret's value is never on the list: only a config with encryption.allow_reading_rsa_secret
# true adds this, so that DR-RSA-01/02 can fingerprint the RSA key the services take from a secret.
SECRET_VALUE_READ: dict[str, Collection[str]] = {"secretsmanager": frozenset({"GetSecretValue"})}

# Where the IAM action differs from the API operation name (S3's older naming).
_IAM_ACTION = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
}
_IAM_PREFIX = {"elbv2": "elasticloadbalancing"}

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
           "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
           "403", "HTTP 403", "Forbidden", "SignatureDoesNotMatch", "AllAccessDisabled"}
# The credentials themselves were refused: no other read can succeed either.
_CREDENTIALS_REFUSED = {"InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken",
                        "ExpiredTokenException", "InvalidAccessKeyId", "AuthFailure"}
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
    """What a verdict (or a remembered fact) rests on: the reads it made, sent or answered from a cache,
    and where each Spacelift setting it used came from."""

    actions: list[dict[str, str]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    def add(self, action: str, resource: str, region: str) -> None:
        entry = {"action": action, "resource": resource, "region": region}
        if entry not in self.actions:
            self.actions.append(entry)

    def add_setting(self, name: str, source: str) -> None:
        self.settings.setdefault(name, source)

    def absorb(self, other: CallRecord) -> None:
        for entry in other.actions:
            if entry not in self.actions:
                self.actions.append(entry)
        for name, source in other.settings.items():
            self.settings.setdefault(name, source)


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
    """Attribute a read outside AWS (a database query, a host command, a file) to the running check's
    evidence (and to the fact being remembered, see :func:`remember`)."""
    record = _current_record.get()
    if record is not None:
        record.add(action, resource, region)


def record_setting(name: str, source: str) -> None:
    """Note where a Spacelift setting the running check (or fact) used came from."""
    record = _current_record.get()
    if record is not None:
        record.add_setting(name, source)


@dataclass
class _Remembered:
    value: Any
    error: Unobservable | None
    reads: CallRecord


def remember(store: dict[Any, Any], key: Any, make: Callable[[], T]) -> T:
    """``make()`` once per ``store`` and ``key``, with the reads it rests on.

    Every later use hands back the same value (or the same Unobservable) *and* adds those reads to the
    evidence being recorded, so a check's evidence is the union of the facts it touched, whichever check
    happened to compute them first. Every fact cached above the run cache goes through here (or through
    :class:`remembered_property`)."""
    entry = store.get(key)
    if entry is None:
        reads = CallRecord()
        try:
            with recording(reads):
                value = make()
        except Unobservable as error:
            entry = _Remembered(None, error, reads)
        except BaseException:
            replay(reads)
            raise
        else:
            entry = _Remembered(value, None, reads)
        entry = store.setdefault(key, entry)
    replay(entry.reads)
    if entry.error is not None:
        raise fresh(entry.error)
    return cast(T, entry.value)


def fresh(error: Unobservable) -> Unobservable:
    """The same failure, raised again without the frames of every earlier raise: a shared error raised
    by a hundred checks would otherwise carry a hundred tracebacks (and pytest formats them all)."""
    return error.with_traceback(None)


def replay(reads: CallRecord) -> None:
    """Add ``reads`` to the evidence being recorded (a remembered fact's, handed out again)."""
    record = _current_record.get()
    if record is not None:
        record.absorb(reads)


class remembered_property(Generic[T]):
    """``functools.cached_property`` that remembers the reads the value rests on (see :func:`remember`)."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> remembered_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | remembered_property[T]:
        if instance is None:
            return self
        store: dict[str, Any] = instance.__dict__.setdefault("_remembered", {})
        return remember(store, self._name, lambda: self._compute(instance))


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


class ClientSource(Protocol):
    """What makes the run's clients: an :func:`aws_session` (or, in tests, a boto3 session)."""

    def client(self, service_name: str, **kwargs: Any) -> Any: ...


class AwsSession:
    """Clients from one botocore session. boto3 adds nothing to a read (its transfer manager and resource
    models are for writing and for objects) and would be a fifth of the suite's import time."""

    def __init__(self, core: botocore.session.Session) -> None:
        self.core = core

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self.core.create_client(service_name, **kwargs)


def aws_session(profile_name: str | None = None, **credentials: str) -> AwsSession:
    """A session whose API descriptions are shared with every other session of the process: each
    installation needs credentials of its own, not its own copy of the service models (some 40 MB)."""
    import botocore.exceptions
    import botocore.session

    core = botocore.session.Session()
    if profile_name is not None:
        if profile_name not in core.available_profiles:
            raise botocore.exceptions.ProfileNotFound(profile=profile_name)
        core.set_config_variable("profile", profile_name)
    if credentials:
        core.set_credentials(credentials.get("aws_access_key_id"), credentials.get("aws_secret_access_key"),
                             credentials.get("aws_session_token"))
    core.register_component("data_loader", data_loader(core))
    return AwsSession(core)


def data_loader(core: botocore.session.Session | None = None) -> Any:
    """The process's one loader of botocore's data (service descriptions, endpoints), lean (see
    LeanDescriptions) and shared by every session: each installation needs credentials of its own, not its
    own copy of the service models."""
    import botocore.session

    with _SHARED_LOADER_LOCK:
        if not _SHARED_LOADER:
            # As botocore makes it (AWS_DATA_PATH and data_path honoured), reading through LeanDescriptions.
            loader = (core or botocore.session.Session()).get_component("data_loader")
            loader.file_loader = LeanDescriptions()
            _SHARED_LOADER.append(loader)
        return _SHARED_LOADER[0]


def without_documentation(value: Any) -> Any:
    """A service description with every documentation string emptied (kept as a key: botocore reads some)."""
    if isinstance(value, dict):
        return {key: "" if key == "documentation" and isinstance(item, str) else without_documentation(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [without_documentation(item) for item in value]
    return value


class LeanDescriptions:
    """botocore's description files, read once without their documentation and kept on disk that way
    (spacelift_dr.disk_cache): the documentation is nine tenths of the text, and the ordered dicts botocore
    parses into cost four times plain ones. Same interface as botocore's JSONFileLoader."""

    def __init__(self) -> None:
        from botocore.loaders import JSONFileLoader

        self._files = JSONFileLoader()

    def exists(self, file_path: str) -> bool:
        return bool(self._files.exists(file_path))

    def load_file(self, file_path: str) -> Any:
        import botocore

        from .disk_cache import derived

        def lean() -> Any:
            data = self._files.load_file(file_path)
            return None if data is None else without_documentation(data)

        for suffix in (".json", ".json.gz"):
            try:
                found = os.stat(file_path + suffix)
            except OSError:
                continue
            return derived("botocore", f"botocore {botocore.__version__}\0{file_path}{suffix}\0{found.st_size}"
                                       f"\0{found.st_mtime_ns}", lean)
        return None

# At most this many requests in flight per service and run: botocore's connection pool per client is
# 10, and AWS throttles per service, so a wide prefetch queues here rather than in retries.
PER_SERVICE_CONCURRENCY = 10


class AwsAccess:
    """Read-only AWS access for one run: client factory, interlock, cache and counter."""

    def __init__(
        self,
        session: ClientSource | None = None,
        *,
        endpoint_url: str | None = None,
        max_attempts: int = 8,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        extra_read_operations: dict[str, Collection[str]] | None = None,
    ) -> None:
        from botocore.config import Config as BotoConfig

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
        # Circuit breakers: an endpoint that did not answer, or credentials that were refused, fail every
        # later read at once with the same cause (found once, not retried per check for minutes).
        self._broken: dict[str, Unobservable] = {}
        self._broken_lock = threading.Lock()
        self._interrupted = threading.Event()
        self.calls = CallCounter()
        self._scope = ""  # another account's access (for_profile) keeps its reads apart in the counts
        self._profiles: dict[str, AwsAccess] = {}

    def for_profile(self, profile: str) -> AwsAccess:
        """The same read-only access through another AWS profile (another account's credentials): same
        allowlist, hooks and endpoint, its own cache, its calls counted with this run's."""
        with self._clients_lock:
            if profile not in self._profiles:
                child = AwsAccess.__new__(AwsAccess)
                child.__dict__.update(self.__dict__)
                child._session = aws_session(profile)
                child._clients = {}
                child._clients_lock = threading.Lock()
                child._cache = {}
                child._cache_lock = threading.Lock()
                child._profiles = {}
                child._service_slots = {}
                child._scope = f"profile {profile}"
                self._profiles[profile] = child
            return self._profiles[profile]

    def _breaker(self, host: str) -> Unobservable | None:
        with self._broken_lock:
            return self._broken.get("credentials") or self._broken.get(host)

    def _trip(self, what: str, action: str, resource: str, cause: str) -> None:
        with self._broken_lock:
            if what not in self._broken:
                whom = "the AWS credentials" if what == "credentials" else f"endpoint {what}"
                error = Unobservable(action, resource, cause)
                error.args = (f"{whom}: {cause} (first seen on {action} {resource}; no later read to it "
                              f"was attempted)",)
                self._broken[what] = error

    def broken(self) -> list[str]:
        """What the breakers stopped: one line per cause (the terminal summary's and the report's)."""
        with self._broken_lock:
            return [str(error) for error in self._broken.values()]

    def interrupt(self) -> None:
        """The run was interrupted (Ctrl-C): no further read is sent; the ones in flight end on their own."""
        self._interrupted.set()

    def release(self) -> None:
        """Drop the clients and the run cache (after the installation's last check): many installations
        in one process then hold the memory of the few in flight, not of all. The counts stay."""
        with self._clients_lock:
            self._clients.clear()
            children = list(self._profiles.values())
        with self._cache_lock:
            self._cache.clear()
        for child in children:
            child.release()

    # -- clients ---------------------------------------------------------------------------------

    def add_event_hook(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client (tests and the demo use after-call)."""
        self._event_hooks.append((event, handler))
        for client in self._clients.values():
            client.meta.events.register(event, handler)

    def client(self, service: str, region: str, *, preflight: bool = False) -> Any:
        """The client for ``service`` in ``region``; ``preflight``: one that gives up after two attempts
        (the first read of the run tells a dead endpoint from a slow one without minutes of back-off)."""
        from botocore.config import Config as BotoConfig

        with self._clients_lock:
            key = (service, region + ("#preflight" if preflight else ""))
            if key not in self._clients:
                config = self._config.merge(BotoConfig(retries={"mode": "standard", "max_attempts": 2})) \
                    if preflight else self._config
                kwargs: dict[str, Any] = {"region_name": region, "config": config}
                if self._endpoint_url:
                    kwargs["endpoint_url"] = self._endpoint_url
                client = self._session.client(service, **kwargs)
                client.meta.events.register("before-call", self._refuse_writes(service))
                client.meta.events.register("before-parse", check_answer_framing)
                for event, handler in self._event_hooks:
                    client.meta.events.register(event, handler)
                self._clients[key] = client
            return self._clients[key]

    def presigning_client(self, service: str, region: str) -> Any:
        """A client of this run's credentials that only presigns (the EKS token): any call it would
        send is refused, so presigning provably sends nothing."""
        kwargs: dict[str, Any] = {"region_name": region, "config": self._config}
        if self._endpoint_url:
            kwargs["endpoint_url"] = self._endpoint_url
        client = self._session.client(service, **kwargs)

        def refuse(model: Any, **_: Any) -> None:
            raise ReadOnlyViolation(f"{iam_action(service, model.name)} (a presigning client sends nothing)")

        client.meta.events.register("before-call", refuse)
        return client

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
        preflight: bool = False,
        **params: Any,
    ) -> dict[str, Any] | None:
        """Make one read (once per run). Returns None when the error code is one of ``absent``."""
        return self._once(service, region, operation, resource, absent, params, paginate_key=None,
                          preflight=preflight)

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
        preflight: bool = False,
    ) -> Any:
        action = iam_action(service, operation)
        if operation not in self._allowed.get(service, set()):
            raise ReadOnlyViolation(action)
        record = _current_record.get()
        if record is not None:
            record.add(action, resource, region)
        key = json.dumps([service, region, operation, paginate_key, params, *([self._scope] if self._scope else [])],
                         sort_keys=True, default=str)
        with self._cache_lock:
            future = self._cache.get(key)
            owner = future is None
            if owner:
                future = self._cache[key] = Future()
        assert future is not None
        if not owner:
            self.calls.hit()
            try:
                return future.result()
            except Unobservable as error:
                raise fresh(error) from None
        if self._interrupted.is_set():
            with self._cache_lock:
                self._cache.pop(key, None)
            stopped = Unobservable(action, resource, "not sent: the run was interrupted")
            future.set_exception(stopped)
            raise stopped
        try:
            with self._slot(service):
                result = self._send(service, region, operation, resource, absent, params, paginate_key, key,
                                    preflight)
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
        preflight: bool = False,
    ) -> Any:
        import botocore.exceptions
        import botocore.parsers
        from botocore import xform_name

        action = iam_action(service, operation)
        client = self.client(service, region, preflight=preflight)
        host = urlsplit(str(client.meta.endpoint_url)).netloc
        tripped = self._breaker(host)
        if tripped is not None:
            raise fresh(tripped)
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
            if code in _CREDENTIALS_REFUSED:
                self._trip("credentials", action, resource, f"refused ({code}: {_message(error)})")
            raise unobservable(action, resource, code, _message(error)) from None
        except ReadOnlyViolation:
            raise
        except IncompleteAnswer as error:
            self.calls.count(action, key, 0)
            raise Unobservable(action, resource, f"incomplete answer ({error})") from None
        except botocore.parsers.ResponseParserError as error:
            self.calls.count(action, key, 0)
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            # An answer that is not the API's (an endpoint without the operation, a proxy's error page).
            raise Unobservable(action, resource, f"malformed answer, not a response of this API ({first_line})") \
                from None
        except botocore.exceptions.NoCredentialsError:
            self._trip("credentials", action, resource, "none found in the standard credential chain")
            raise Unobservable(action, resource, "no AWS credentials found in the standard credential chain") \
                from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
            self.calls.count(action, key, 0)
            self._trip(host, action, resource, f"unreachable ({type(error).__name__})")
            raise Unobservable(action, resource, f"endpoint unreachable ({type(error).__name__})") from None
        except (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as error:
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
