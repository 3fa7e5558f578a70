"""Discovery of an installation from ECS (services → task definitions → settings, names and ARNs only)
or from Kubernetes Deployments (see kubernetes_discovery.py)."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .aws import AwsAccess, CallRecord, recording
from .errors import Unobservable
from .installation import Container, DiscoveredServices, Installation, Service, UnreadServices
from .kubernetes_api import kubernetes_access
from .kubernetes_discovery import discover_deployments

if TYPE_CHECKING:  # the config models (pydantic) load with the first config; `pytest --help` does without
    from .config import Config


def _container(definition: dict[str, Any]) -> Container:
    return Container(
        name=definition.get("name", ""),
        image=definition.get("image", ""),
        environment={e["name"]: str(e.get("value", "")) for e in definition.get("environment", [])},
        # Only the reference is kept: the suite never fetches a secret value during discovery.
        secrets={s["name"]: s["valueFrom"] for s in definition.get("secrets", [])},
        mount_points=tuple(definition.get("mountPoints", [])),
    )


def discover_services(config: Config, aws: AwsAccess) -> dict[str, Service]:
    section = config.installation
    cluster = section.discover.ecs_cluster
    if cluster is None:
        return {}
    region = section.primary_region
    names = section.discover.services.model_dump()
    response = aws.call("ecs", region, "DescribeServices", resource=f"ecs cluster {cluster}",
                        cluster=cluster, services=list(names.values()))
    assert response is not None
    by_name = {s["serviceName"]: s for s in response.get("services", []) if s.get("status") != "INACTIVE"}
    found_roles = {role: by_name[ecs_name] for role, ecs_name in names.items() if ecs_name in by_name}
    arns = sorted({found["taskDefinition"] for found in found_roles.values()})
    # The task definitions are independent reads: one round trip for all of them.
    def describe(arn: str) -> dict[str, Any] | None:
        return aws.call("ecs", region, "DescribeTaskDefinition", resource=arn, taskDefinition=arn)

    with ThreadPoolExecutor(max_workers=max(1, len(arns))) as pool:
        # Each read runs in a copy of this context, so it is recorded where discovery's reads are.
        futures = [pool.submit(contextvars.copy_context().run, describe, arn) for arn in arns]
        described_by_arn = {arn: future.result() for arn, future in zip(arns, futures, strict=True)}
    services: dict[str, Service] = {}
    for role, found in found_roles.items():
        arn = found["taskDefinition"]
        described = described_by_arn[arn]
        assert described is not None
        task = described.get("taskDefinition")
        if not isinstance(task, dict):
            raise Unobservable("ecs:DescribeTaskDefinition", arn, "incomplete answer (no taskDefinition)")
        services[role] = Service(
            role=role,
            ecs_service=found.get("serviceArn", names[role]),
            task_definition_arn=arn,
            containers=tuple(_container(c) for c in task.get("containerDefinitions", [])),
            volumes=tuple(task.get("volumes", [])),
            task_role_arn=task.get("taskRoleArn") or None,
            execution_role_arn=task.get("executionRoleArn") or None,
        )
    return services


def build_installation(config: Config, aws: AwsAccess) -> Installation:
    """The installation of the config (with :class:`UnreadServices` when ECS cannot be read)."""
    section = config.installation
    discover = section.discover
    # Missing services are DR-SVC-01's finding; checks that need their settings then report what is unset.
    # When the services cannot be read, the settings declared in the config still serve the checks that need
    # only them; everything else reports the discovery failure.
    services: dict[str, Service]
    kubernetes: dict[str, Any] = {}
    if discover.on_kubernetes:
        cluster = discover.eks_cluster or discover.cluster.context or "the kubeconfig's current context"
        kubernetes = {"kubernetes_cluster": cluster, "kubernetes_namespace": discover.cluster.namespace,
                      "deployment_names": discover.cluster.deployments.model_dump()}
    reads = CallRecord()
    try:
        with recording(reads):
            if discover.on_kubernetes:
                def account() -> str | None:
                    # The run asked already (sessionstart): answered from the run cache.
                    identity = aws.call("sts", section.primary_region, "GetCallerIdentity", resource="caller")
                    return str(identity["Account"]) if identity else None

                found = discover_deployments(config, kubernetes_access(config, aws), account)
            else:
                found = discover_services(config, aws)
        services = DiscoveredServices(found, reads)
    except Unobservable as error:
        services = UnreadServices(error)
    return Installation(
        name=section.name,
        primary_region=section.primary_region,
        backup_region=section.backup_region,
        account_id=section.account_id,
        critical_bucket_kinds=tuple(section.critical_buckets),
        services=services,
        explicit_settings=dict(section.settings),
        ecs_cluster=section.discover.ecs_cluster,
        ecs_service_names=section.discover.services.model_dump(),
        **kubernetes,
    )
