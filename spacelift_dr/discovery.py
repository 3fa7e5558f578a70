"""Discovery of an installation from ECS: services → task definitions → settings (names and ARNs only)."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .aws import AwsAccess
from .config import Config
from .errors import Unobservable
from .installation import Container, Installation, Service


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
        )
    return services


def build_installation(config: Config, aws: AwsAccess) -> Installation:
    """The installation of the config. Raises Unobservable when ECS cannot be read."""
    section = config.installation
    # Missing services are DR-SVC-01's finding; checks that need their settings then report what is unset.
    services = discover_services(config, aws)
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
    )
