"""What the demo's area seeders share: clients to the moto server, names, and the settings they set."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's default account
PRIMARY = "eu-west-1"
BACKUP = "eu-central-1"
SUFFIX = "ab12c"
CLUSTER = f"spacelift-{SUFFIX}"


@functools.lru_cache(maxsize=256)
def _seeding_client(service: str, region: str, endpoint_url: str, credentials: tuple[tuple[str, str], ...]) -> Any:
    """A seeding client, made once per process for each server, region and account (the tests seed the
    demo some 400 times; the seeders register no handler on their clients)."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **dict(credentials))


@dataclass
class SeedContext:
    """Handed to each area seeder in turn. Seeders add resources, settings and response fix-ups."""

    endpoint_url: str
    mutations: frozenset[str]
    variant: str = "builtin"
    primary: str = PRIMARY
    backup: str = BACKUP
    account: str = ACCOUNT
    suffix: str = SUFFIX
    # Settings for every service, and per service on top ({"server": {...}}).
    environment: dict[str, str] = field(default_factory=dict)
    service_environment: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"server": {}, "drain": {}, "scheduler": {}})
    secrets: dict[str, str] = field(default_factory=dict)
    # Values the seeders know (ARNs, names) that later seeders and tests read.
    facts: dict[str, Any] = field(default_factory=dict)
    # moto answers some reads unfaithfully; these hooks give back what was seeded (see demo.fixups).
    replication_configurations: dict[str, dict[str, Any]] = field(default_factory=dict)
    fixups: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)
    # Settings a test adds to every service last, over what the seeders set.
    extra_environment: dict[str, str] = field(default_factory=dict)
    # Whose account the seeders write to: moto keeps one set of resources per account.
    credentials: dict[str, str] = field(
        default_factory=lambda: {"aws_access_key_id": "demo", "aws_secret_access_key": "demo"})
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.primary)
        if key not in self._clients:
            self._clients[key] = _seeding_client(service, key[1], self.endpoint_url,
                                                 tuple(sorted(self.credentials.items())))
        return self._clients[key]

    def replay(self, service: str, operation: str, fix: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
        """Correct moto's answer to ``operation`` with what was seeded: ``fix(api_params, parsed)``."""
        key = f"dr_demo_params:{service}.{operation}"

        def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context[key] = dict(params)

        def correct(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            fix(context.get(key, {}), parsed)

        self.fixups.append((f"before-parameter-build.{service}.{operation}", remember))
        self.fixups.append((f"after-call.{service}.{operation}", correct))

    def mutated(self, name: str) -> bool:
        return name in self.mutations

    def name(self, kind: str) -> str:
        return f"spacelift-{kind}-{self.suffix}"
