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
        raise NotApplicable("installation.discover.ecs_cluster is not set: no service was discovered, the "
                            "settings are declared in the config (installation.settings)")
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
def test_stateless_services_keep_no_data_of_their_own(task_definitions: list[Service], evidence: Evidence) -> None:
    mounts = {s.role: persistent_mounts(s) for s in task_definitions}
    evidence.observed(volumes={s.role: [v.get("name") for v in s.volumes] for s in task_definitions},
                      persistent_mounts={role: found for role, found in mounts.items() if found})
    problems = [f"{role} mounts {m['kind']} (volume {m['volume']} at {m['mounted_at']})"
                for role, found in mounts.items() for m in found]
    assert not problems, "; ".join(problems) + ", expected no persistent volume"
    evidence.message = f"{', '.join(mounts)} mount no EFS, FSx, host-path or shared Docker volume"


@requirement("DR-SVC-03")
def test_images_can_be_pulled_in_backup_region(task_definitions: list[Service], service_facts: ServiceFacts,
                                               installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    images = {c.image: Image.parse(c.image) for s in task_definitions for c in s.containers}
    evidence.observed(images=[i.summary() for i in images.values()])
    in_ecr = [i for i in images.values() if i.in_private_ecr]
    if not in_ecr:
        raise NotApplicable(f"no image of {', '.join(s.role for s in task_definitions)} is in a private ECR "
                            f"registry ({', '.join(sorted({i.registry for i in images.values()}))} are not "
                            f"region-bound)")
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
    evidence.message = f"every ECR image of {', '.join(s.role for s in task_definitions)} is replicated to {backup}"


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
