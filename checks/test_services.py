"""Stateless components: server, drain and scheduler (DR guide, "Stateless components")."""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence


@requirement("DR-SVC-01")
def test_stateless_service_exists_and_is_readable(service_role: str, installation: Installation,
                                                  evidence: Evidence) -> None:
    if installation.ecs_cluster is None:
        evidence.about(f"config:{service_role}")
        evidence.observed(explicit_settings=sorted(installation.explicit_settings))
        evidence.message = "no ECS discovery configured: the settings are given explicitly in the config"
        return
    ecs_name = installation.ecs_service_names[service_role]
    evidence.about(f"{installation.ecs_cluster}/{ecs_name}", installation.primary_region)
    service = installation.services.get(service_role)
    evidence.observed(cluster=installation.ecs_cluster, service=ecs_name,
                      task_definition=service.task_definition_arn if service else None,
                      containers=[c.name for c in service.containers] if service else [],
                      settings_found=len(service.settings()) if service else 0)
    assert service is not None, (
        f"ECS service {ecs_name} not found (or inactive) in cluster {installation.ecs_cluster}, "
        f"expected the {service_role} service")
    assert service.containers, f"task definition {service.task_definition_arn} has no container definitions"
    evidence.message = f"{ecs_name} runs {service.task_definition_arn} with {len(service.settings())} settings"
