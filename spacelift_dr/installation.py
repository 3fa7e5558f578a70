"""The installation under test: regions, account and the Spacelift settings of its services.

Settings come from the ECS task definitions of ``server``, ``drain`` and ``scheduler`` (plain
``environment`` values, and ``secrets`` references whose values are never fetched), or from their
Kubernetes Deployments (``env``, and the ConfigMaps and Secrets they load: a Secret's value is kept only
for setting names that are not secret), and explicit ``installation.settings`` in the config override
them. Each setting remembers where it came from (``Setting.source``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .aws import CallRecord, record_setting, replay
from .errors import Unobservable

# Where a setting declared in the config comes from, in every result's evidence.
DECLARED = "declared in the config (installation.settings)"

SERVICES = ("server", "drain", "scheduler")

# The DR guide's critical buckets, by the kind used in config and parametrization.
CRITICAL_BUCKET_KINDS = ("modules", "policy_inputs", "run_logs", "states")

def per_service(values: dict[str, str | None]) -> str:
    """Values per service as a sentence, never a Python repr: ``builtin on server, unset on drain``."""
    by_value: dict[str, list[str]] = {}
    for role, value in values.items():
        by_value.setdefault(value if value else "unset", []).append(role)
    return ", ".join(f"{value} on {' and '.join(roles)}" for value, roles in by_value.items()) or "unset"


def bucket_setting(kind: str) -> str:
    return f"OBJECT_STORAGE_BUCKET_{kind.upper()}"


@dataclass(frozen=True)
class Setting:
    """One setting of one service: a plain value, or a reference to a secret (value unknown)."""

    name: str
    service: str  # server | drain | scheduler | config
    value: str | None = None
    secret_ref: str | None = None
    # Where it was read: the task definition, the Deployment, its ConfigMap or Secret, or the config.
    source: str | None = None

    @property
    def is_secret_reference(self) -> bool:
        return self.secret_ref is not None


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    environment: dict[str, str]
    secrets: dict[str, str]
    mount_points: tuple[dict[str, Any], ...] = ()
    # Setting name → where it came from, when not the service's own definition (a ConfigMap, a Secret).
    sources: dict[str, str] = field(default_factory=dict)
    # Kubernetes: a value kept from a Secret beside its reference (DATABASE_URL's DSN without password).
    secret_values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """A Kubernetes Deployment as observed: its replicas and what else the checks read beside it."""

    namespace: str
    name: str
    replicas: int | None
    available_replicas: int | None
    service_account: str | None
    # Where the server is reached: DNS names of its Services' and Ingresses' load balancers.
    load_balancer_hostnames: tuple[str, ...] = ()
    # Kubernetes Secret name → what it is synced from (External Secrets / Secrets Store CSI), if said.
    secret_origins: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"Deployment {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Service:
    """A stateless service as discovered: its ECS service and task definition, or its Kubernetes
    Deployment (then ``ecs_service`` and ``task_definition_arn`` name the Deployment)."""

    role: str  # server | drain | scheduler
    ecs_service: str
    task_definition_arn: str
    containers: tuple[Container, ...]
    volumes: tuple[dict[str, Any], ...] = ()
    # The IAM roles the service runs with: the ECS task and execution roles, or on EKS the IRSA role of
    # its service account (eks.amazonaws.com/role-arn); None when it has none.
    task_role_arn: str | None = None
    execution_role_arn: str | None = None
    workload: Workload | None = None

    @property
    def source(self) -> str:
        """What the settings were read from, as the evidence names it."""
        return self.workload.label if self.workload else f"task definition {self.task_definition_arn}"

    def settings(self) -> dict[str, Setting]:
        return self._settings

    @cached_property
    def _settings(self) -> dict[str, Setting]:
        found: dict[str, Setting] = {}
        for container in self.containers:
            for name, value in container.environment.items():
                found.setdefault(name, Setting(name, self.role, value=value,
                                               source=container.sources.get(name, self.source)))
            for name, ref in container.secrets.items():
                found.setdefault(name, Setting(name, self.role, value=container.secret_values.get(name),
                                               secret_ref=ref, source=container.sources.get(name, self.source)))
        return found


class DiscoveredServices(dict[str, Service]):
    """The services discovery found: whoever uses them rests on discovery's reads (ECS DescribeServices and
    DescribeTaskDefinition), so every use adds those reads to the evidence being recorded."""

    def __init__(self, found: dict[str, Service], reads: CallRecord) -> None:
        super().__init__(found)
        self.reads = reads

    def __getitem__(self, key: str) -> Service:
        replay(self.reads)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        replay(self.reads)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        replay(self.reads)
        return super().__iter__()

    def __len__(self) -> int:
        replay(self.reads)
        return super().__len__()

    def get(self, key: str, default: Any = None) -> Any:
        replay(self.reads)
        return super().get(key, default)

    def items(self) -> Any:
        replay(self.reads)
        return super().items()

    def values(self) -> Any:
        replay(self.reads)
        return super().values()

    def keys(self) -> Any:
        replay(self.reads)
        return super().keys()


class UnreadServices(dict[str, Service]):
    """The services when discovery failed: any use of them raises that failure (an ERROR naming the
    read), while settings declared in the config still answer the checks that need only them."""

    def __init__(self, error: Unobservable) -> None:
        super().__init__()
        self.error = error

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise self.error.with_traceback(None)

    __getitem__ = __contains__ = __iter__ = __len__ = __bool__ = _fail
    get = items = keys = values = _fail


@dataclass
class Installation:
    name: str
    primary_region: str
    backup_region: str
    account_id: str | None
    critical_bucket_kinds: tuple[str, ...]
    services: dict[str, Service] = field(default_factory=dict)
    explicit_settings: dict[str, str] = field(default_factory=dict)
    ecs_cluster: str | None = None
    ecs_service_names: dict[str, str] = field(default_factory=dict)
    # Kubernetes discovery: the cluster (EKS name or kubeconfig context) and namespace, and the
    # Deployment names per role. ``ecs_cluster`` is then None.
    kubernetes_cluster: str | None = None
    kubernetes_namespace: str | None = None
    deployment_names: dict[str, str | None] = field(default_factory=dict)

    @property
    def on_kubernetes(self) -> bool:
        return self.kubernetes_cluster is not None

    @property
    def discovered_from(self) -> str | None:
        """Where the services were discovered, or None when every setting is declared in the config."""
        if self.ecs_cluster is not None:
            return f"ECS cluster {self.ecs_cluster}"
        if self.kubernetes_cluster is not None:
            return f"Kubernetes cluster {self.kubernetes_cluster}, namespace {self.kubernetes_namespace}"
        return None

    def setting_sources(self, role: str) -> dict[str, list[str]]:
        """Where the service ``role`` got its settings: source → setting names (names only, never values;
        keyed by source so that a secret's name is never a key whose value output would mask)."""
        service = self.services.get(role)
        found = {name: s.source or "" for name, s in service.settings().items()} if service else {}
        found.update({name: "declared in the config" for name in self.explicit_settings})
        grouped: dict[str, list[str]] = {}
        for name, source in sorted(found.items()):
            grouped.setdefault(source, []).append(name)
        return dict(sorted(grouped.items()))

    @property
    def discovery_error(self) -> Unobservable | None:
        """Why discovery failed (the services cannot be read), or None."""
        return self.services.error if isinstance(self.services, UnreadServices) else None

    def setting(self, name: str, service: str | None = None) -> Setting | None:
        """The setting as the given service (or, without one, the installation) sees it."""
        if name in self.explicit_settings:
            record_setting(name, DECLARED)
            return Setting(name, "config", value=self.explicit_settings[name], source=DECLARED)
        roles = [service] if service else [r for r in SERVICES if r in self.services]
        for role in roles:
            if role in self.services:
                found = self.services[role].settings().get(name)
                if found is not None:
                    record_setting(f"{name} ({role})" if service else name,
                                   f"{found.source or self.services[role].source} ({role})")
                    return found
        record_setting(f"{name} ({service})" if service else name,
                       f"not set on {', '.join(roles)}" if roles else "not set (no service discovered)")
        return None

    def declared_once(self, *names: str) -> bool:
        """No service was discovered, or every one of ``names`` is declared in the config: then each
        holds for server, drain and scheduler alike, and comparing the services observes nothing."""
        return all(name in self.explicit_settings for name in names) or not self.services

    def value(self, name: str, service: str | None = None) -> str | None:
        """A plain setting value; None when unset. A secret reference raises: its value is unknown (on
        Kubernetes, a value kept beside its reference, from a Secret synced from AWS, is known)."""
        found = self.setting(name, service)
        if found is None:
            return None
        if found.secret_ref is not None and found.value is None:
            raise Unobservable(
                "spacelift:setting", name,
                f"{name} is a secret reference ({found.secret_ref}) whose value the suite does not read; "
                f"give it under installation.settings",
            )
        return found.value

    def settings_per_service(self, name: str) -> dict[str, Setting | None]:
        if name in self.explicit_settings:  # declared once: the same for every service
            return {role: self.setting(name, role) for role in SERVICES}
        return {role: self.setting(name, role) for role in SERVICES
                if role in self.services or self.explicit_settings}

    def setting_names(self) -> set[str]:
        names = set(self.explicit_settings)
        for service in self.services.values():
            names.update(service.settings())
        return names

    def bucket_kinds(self) -> list[str]:
        """Every OBJECT_STORAGE_BUCKET_<KIND> the services are configured with (URLs excluded)."""
        kinds = {n.removeprefix("OBJECT_STORAGE_BUCKET_").lower() for n in self.setting_names()
                 if n.startswith("OBJECT_STORAGE_BUCKET_") and not n.endswith("_URL")}
        return sorted(kinds)

    def bucket_name(self, kind: str) -> str:
        """The bucket configured for ``kind``; an unset setting is unobservable, not 'no bucket'."""
        setting = bucket_setting(kind)
        value = self.value(setting)
        if not value:
            raise Unobservable("spacelift:setting", setting,
                               f"{setting} is not set on {', '.join(self.services) or 'any service'}")
        return value
