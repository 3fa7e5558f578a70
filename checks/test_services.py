"""Stateless components: server, drain and scheduler (DR guide, "Stateless components")."""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.facts.services import Image, ServiceFacts, persistent_mounts
from spacelift_dr.installation import Installation, Service
from spacelift_dr.results import Evidence, NotApplicable


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


@requirement("DR-SVC-02")
def test_stateless_service_keeps_no_data_of_its_own(task_definition: Service, evidence: Evidence) -> None:
    mounts = persistent_mounts(task_definition)
    evidence.observed(volumes=[v.get("name") for v in task_definition.volumes], persistent_mounts=mounts)
    assert not mounts, (f"{task_definition.role} mounts " + "; ".join(f"{m['kind']} (volume {m['volume']} at "
                                                                      f"{m['mounted_at']})" for m in mounts)
                        + ", expected no persistent volume")
    evidence.message = f"{task_definition.role} mounts no EFS, FSx, host-path or shared Docker volume"


@requirement("DR-SVC-03")
def test_images_can_be_pulled_in_backup_region(task_definition: Service, service_facts: ServiceFacts,
                                               installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    images = [Image.parse(c.image) for c in task_definition.containers]
    evidence.observed(images=[i.summary() for i in images])
    in_ecr = [i for i in images if i.in_private_ecr]
    if not in_ecr:
        raise NotApplicable(f"{task_definition.role} uses no image from a private ECR registry "
                            f"({', '.join(sorted({i.registry for i in images}))} are not region-bound)")
    unreachable, covered = [], {}
    for image in in_ecr:
        if image.ecr_region == backup:
            continue  # already pulled from the backup region's registry
        rules = service_facts.registry_replication(image).rules_replicating(image.repository, backup)
        covered[image.reference] = [r.summary() for r in rules]
        if not rules:
            unreachable.append(image)
    evidence.observed(replication_rules_to_backup_region=covered)
    assert not unreachable, (
        "; ".join(f"{i.repository} in {i.ecr_region} has no registry replication rule to {backup}"
                  for i in unreachable) + f" (expected a rule whose destination is {backup} and whose "
                                          f"repository filters match)")
    evidence.message = f"every ECR image of {task_definition.role} is replicated to {backup}"


@requirement("DR-SVC-04")
def test_referenced_secret_is_replicated_to_backup_region(referenced_secret: str, service_facts: ServiceFacts,
                                                          installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    secret = service_facts.secret(referenced_secret)
    assert secret is not None, f"secret {referenced_secret} does not exist, expected it with a replica in {backup}"
    evidence.observed(secret=secret.summary())
    if secret.primary_region == backup:
        evidence.message = f"{secret.name} lives in the backup region {backup}"
        return
    replica = secret.replica_in(backup)
    regions = ", ".join(r.region for r in secret.replicas) or "no region"
    assert replica is not None, f"{secret.name} is replicated to {regions}, expected a replica in {backup}"
    assert replica.in_sync, (f"{secret.name}'s replica in {backup} is {replica.status} "
                             f"({replica.message or 'no message'}), expected InSync")
    evidence.message = f"{secret.name} has an InSync replica in {backup}"
