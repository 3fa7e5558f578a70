"""The embedded demo installation: a moto server on loopback seeded with a Spacelift installation the
way the official AWS Terraform modules deploy it, plus a DR set-up in a backup region.

``seed(endpoint, mutations)`` builds it; with no mutations it is DR-ready. Named mutations break one
thing each; the scenario tests use them, and the demo report uses :data:`DEMO_GAPS`, a realistic
partial DR set-up, so that it shows PASS, FAIL and N/A.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import boto3

from ..config import Config, parse_config
from . import broker, continuity, database, kms, services, storage
from .context import ACCOUNT, PRIMARY, SUFFIX, SeedContext
from .kubernetes import FakeKubernetesApi

Seeder = Callable[[SeedContext], None]

# Order matters: keys before the buckets they encrypt, services last (they carry everyone's settings).
AREAS: list[tuple[Seeder, dict[str, str]]] = [
    (kms.seed, kms.MUTATIONS),
    (storage.seed, storage.MUTATIONS),
    (database.seed, database.MUTATIONS),
    (broker.seed, broker.MUTATIONS),
    (continuity.seed, continuity.MUTATIONS),
    (services.seed, services.MUTATIONS),
]

MUTATIONS: dict[str, str] = {name: text for _, mutations in AREAS for name, text in mutations.items()}

# The demo's partial DR set-up: what a typical installation half-way through its DR project looks like.
DEMO_GAPS: frozenset[str] = frozenset({
    "no-replication:run_logs",
    "no-failback:policy_inputs",
    "no-delete-markers:modules",
    "replication-lagging:policy_inputs",
    "state-mfa-delete-off",
    "server-certificate-expiring",
    "unreplicated-secret:shared",
    "single-region-signing-key",
    "db-short-retention",
    # Revision 2: the official IAM module's primary-region-only grants, and an image pushed before the
    # registry replication rule existed.
    "task-role-primary-only:drain",
    "image-pushed-before-replication",
})

# Secret values seeded into the demo: no output of the suite may contain them.
DEMO_SECRETS = (services.DEMO_ADMIN_PASSWORD, services.DEMO_DB_PASSWORD)


@dataclass
class Demo:
    endpoint_url: str
    context: SeedContext

    def config(self, name: str = "demo") -> Config:
        ctx = self.context
        on_eks = "eks_cluster" in ctx.facts
        return parse_config({
            "installation": {
                "name": name,
                "primary_region": ctx.primary,
                "backup_region": ctx.backup,
                "account_id": ctx.account,
                "discover": {"eks_cluster": ctx.facts["eks_cluster"]} if on_eks
                else {"ecs_cluster": ctx.facts["ecs_cluster"]},
            },
            # The shipped Terraform code tree and the roles the continuity seeder created.
            "continuity": dict(ctx.facts["continuity"]),
            # On ECS, DATABASE_URL is a secret reference whose value the suite does not read: name the
            # cluster. On EKS the suite finds it from the DSN's host in the spacelift-shared Secret.
            "database": {} if on_eks else
            {"cluster_identifier": ctx.facts.get("database", {}).get("cluster_identifier")},
        }, "<demo>")

    @property
    def kubernetes_api(self) -> FakeKubernetesApi | None:
        """The loopback fake of the cluster's API (the ``eks`` variant)."""
        found = self.context.facts.get("kubernetes_api")
        return found if isinstance(found, FakeKubernetesApi) else None

    def close(self) -> None:
        """Stop what the demo started beside the moto server (the fake Kubernetes API)."""
        api = self.kubernetes_api
        if api is not None:
            api.stop()

    def install_fixups(self, register: Callable[[str, Callable[..., Any]], None]) -> None:
        """Give back what was seeded where moto's answers are known to be unfaithful (moto 5.2): each area
        seeder registers its corrections (``SeedContext.replay``), e.g. the replication configurations whose
        DeleteMarkerReplication and SourceSelectionCriteria moto drops."""
        for event, handler in self.context.fixups:
            register(event, handler)


def account_credentials(endpoint_url: str, account: str) -> dict[str, str]:
    """Credentials moto maps to ``account`` (an assumed role's): how one server holds many accounts."""
    sts = boto3.client("sts", region_name=PRIMARY, endpoint_url=endpoint_url, aws_access_key_id="demo",
                       aws_secret_access_key="demo")
    found = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/spacelift-dr-demo",
                            RoleSessionName="spacelift-dr-demo")["Credentials"]
    return {"aws_access_key_id": found["AccessKeyId"], "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"]}


def seed(endpoint_url: str, mutations: Iterable[str] = (), variant: str = "builtin",
         environment: dict[str, str] | None = None, account: str = ACCOUNT, suffix: str = SUFFIX,
         progress: Callable[[str], None] | None = None) -> Demo:
    """Seed a (reset) moto server with the installation. Unknown mutation names are an error.

    Another ``account`` and ``suffix`` seed one more installation beside the first (its own account,
    bucket names of its own): how the tests and the benchmark build many installations."""
    chosen = frozenset(mutations)
    unknown = sorted(chosen - MUTATIONS.keys())
    if unknown:
        raise ValueError(f"unknown demo mutation(s): {', '.join(unknown)}; known: {', '.join(sorted(MUTATIONS))}")
    ctx = SeedContext(endpoint_url=endpoint_url, mutations=chosen, variant=variant,
                      extra_environment=dict(environment or {}), account=account, suffix=suffix)
    if account != ACCOUNT:
        ctx.credentials = account_credentials(endpoint_url, account)
    try:
        for seeder, _ in AREAS:
            if progress is not None:
                progress(seeder.__module__.rsplit(".", 1)[-1])
            seeder(ctx)
    except BaseException:
        Demo(endpoint_url=endpoint_url, context=ctx).close()
        raise
    return Demo(endpoint_url=endpoint_url, context=ctx)


class _KeyPairWhenUsed:
    """moto's private key of a KMS key, generated when first used: moto makes an RSA-2048 pair for every key,
    symmetric ones included, where only signing keys ever use it (a third of the time the demo took to seed)."""

    def __init__(self, make: Callable[[str], Any], key_spec: str) -> None:
        self._make, self._key_spec = make, key_spec
        self._pair: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._pair is None:
                self._pair = self._make(self._key_spec)
        return getattr(self._pair, name)


def _generate_kms_key_pairs_when_used() -> None:
    import moto.kms.models

    make = moto.kms.models.generate_private_key
    if not isinstance(make, functools.partial):
        moto.kms.models.generate_private_key = cast(Any, functools.partial(_KeyPairWhenUsed, make))


class DemoServer:
    """A moto server on loopback (port chosen by the OS), for the demo and for the tests."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        _generate_kms_key_pairs_when_used()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> DemoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        self._server.stop()
