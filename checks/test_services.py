"""Stateless components: server, drain and scheduler (DR guide, "Stateless components")."""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.facts.permissions import ALLOWED, ServicePermissions
from spacelift_dr.facts.services import Image, ParameterReference, ServiceFacts, persistent_mounts
from spacelift_dr.installation import Installation, Service
from spacelift_dr.results import Evidence, NotApplicable


@requirement("DR-SVC-01")
def test_stateless_service_exists_and_is_readable(service_role: str, installation: Installation,
                                                  evidence: Evidence) -> None:
    if installation.discovered_from is None:
        # Declared settings are not an observation of the installation: nothing to pass on.
        evidence.about(f"config:{service_role}")
        evidence.observed(explicit_settings=sorted(installation.explicit_settings))
        raise NotApplicable("installation.discover (ecs_cluster, eks_cluster or kubernetes) is not set: every "
                            "setting is declared in the config (installation.settings), nothing was discovered")
    if installation.on_kubernetes:
        deployment_exists_and_has_available_replicas(service_role, installation, evidence)
        return
    ecs_name = installation.ecs_service_names[service_role]
    evidence.about(f"{installation.ecs_cluster}/{ecs_name}", installation.primary_region)
    service = installation.services.get(service_role)
    evidence.observed(cluster=installation.ecs_cluster, service=ecs_name,
                      task_definition=service.task_definition_arn if service else None,
                      containers=[c.name for c in service.containers] if service else [],
                      settings_found=len(service.settings()) if service else 0,
                      settings_by_source=installation.setting_sources(service_role))
    assert service is not None, (
        f"ECS service {ecs_name} not found (or inactive) in cluster {installation.ecs_cluster}, "
        f"expected the {service_role} service")
    assert service.containers, f"task definition {service.task_definition_arn} has no container definitions"
    evidence.message = f"{ecs_name} runs {service.task_definition_arn} with {len(service.settings())} settings"


def deployment_exists_and_has_available_replicas(role: str, installation: Installation, evidence: Evidence) -> None:
    """DR-SVC-01 on Kubernetes: the Deployment exists, its pod template is read, a replica is available."""
    name = installation.deployment_names[role]
    if name is None:
        evidence.about(f"{installation.kubernetes_namespace}/{role}", installation.primary_region)
        raise NotApplicable(f"discover.kubernetes.deployments.{role} is null: no {role} Deployment is expected "
                            f"(from Spacelift v6.4.0 the Helm chart runs the scheduler inside the drain)")
    where = f"{installation.kubernetes_namespace}/{name}"
    evidence.about(where, installation.primary_region)
    service = installation.services.get(role)
    workload = service.workload if service else None
    evidence.observed(cluster=installation.kubernetes_cluster, deployment=where,
                      containers=[c.name for c in service.containers] if service else [],
                      replicas=workload.replicas if workload else None,
                      available_replicas=workload.available_replicas if workload else None,
                      service_account=workload.service_account if workload else None,
                      settings_found=len(service.settings()) if service else 0,
                      settings_by_source=installation.setting_sources(role))
    assert service is not None, (
        f"Deployment {where} not found in {installation.kubernetes_cluster}, expected the {role} service")
    assert workload is not None, f"{where} was not read as a Deployment"
    assert service.containers, f"Deployment {where} has no containers in its pod template"
    assert (workload.available_replicas or 0) >= 1, (
        f"Deployment {where} has {workload.available_replicas or 0} available of {workload.replicas} replicas, "
        f"expected at least one available")
    evidence.message = (f"{where} has {workload.available_replicas} of {workload.replicas} replicas available, "
                        f"with {len(service.settings())} settings")


@requirement("DR-SVC-02")
def test_stateless_services_keep_no_data_of_their_own(task_definitions: list[Service], evidence: Evidence) -> None:
    mounts = {s.role: persistent_mounts(s) for s in task_definitions}
    evidence.observed(volumes={s.role: [v.get("name") for v in s.volumes] for s in task_definitions},
                      persistent_mounts={role: found for role, found in mounts.items() if found})
    problems = [f"{role} mounts {m['kind']} (volume {m['volume']} at {m['mounted_at']})"
                for role, found in mounts.items() for m in found]
    assert not problems, "; ".join(problems) + ", expected no persistent volume"
    kinds = ("persistent volume claim, host path, EFS CSI or NFS volume"
             if any(s.workload for s in task_definitions) else "EFS, FSx, host-path or shared Docker volume")
    evidence.message = f"{', '.join(mounts)} mount no {kinds}"


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
    problems, digests, rules = [], {}, {}
    for image in in_ecr:
        if image.ecr_region == backup:
            continue  # already pulled from the backup region's registry
        source = service_facts.image_digest(image, str(image.ecr_region))
        copy = service_facts.image_digest(image, backup)
        digests[image.reference] = {str(image.ecr_region): source, backup: copy}
        rules[image.reference] = service_facts.replication_rules_shown(image, backup)
        where = f"{image.repository}:{image.version}"
        if source is None:
            problems.append(f"{where} is not in its own repository in {image.ecr_region}")
        elif copy is None:
            problems.append(f"{where} is not in the repository {image.repository} of {backup}")
        elif copy != source:
            problems.append(f"{where} is {copy} in {backup} but {source} in {image.ecr_region}")
    evidence.observed(digests=digests, replication_rules_to_backup_region=rules)
    assert not problems, "; ".join(problems) + (
        f" (expected the same image digest in {backup}; a replication rule copies only pushes made after it "
        f"exists)")
    evidence.message = (f"every ECR image of {', '.join(s.role for s in task_definitions)} is in {backup} with the "
                        f"same digest")


@requirement("DR-SVC-04")
def test_referenced_secret_is_replicated_to_backup_region(referenced_secret: str, service_facts: ServiceFacts,
                                                          installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    parameter = ParameterReference.parse(referenced_secret, installation.primary_region, "")
    if parameter is not None:
        # Parameters never replicate: the replacement task needs one of the same name (its value unread).
        found = service_facts.parameters_named(backup, parameter.names)
        evidence.observed(parameter=parameter.name, parameter_region=parameter.region, in_backup_region=found)
        assert found, (f"SSM parameter {parameter.name} ({parameter.region}) has no parameter of the same name in "
                       f"{backup} (parameters never replicate), expected one created there")
        evidence.message = f"SSM parameter {found[0]} exists in {backup} too"
        return
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


@requirement("DR-SVC-05")
def test_roles_work_against_backup_region_resources(service_permissions: ServicePermissions,
                                                    installation: Installation, evidence: Evidence) -> None:
    backup = installation.backup_region
    comparisons = service_permissions.comparisons()
    gaps = [c for c in comparisons if c.gap]
    allowed = [c for c in comparisons if c.primary == ALLOWED]
    evidence.observed(compared=len(comparisons), allowed_in_primary=len(allowed),
                      denied_in_backup_region=[g.summary() for g in gaps[:20]])
    assert not gaps, (
        "; ".join(f"{g.role.rsplit('/', 1)[-1]} may {g.action} on the {g.probe.what} in the primary region but "
                  f"not on {g.probe.backup_arn} ({g.backup})" for g in gaps[:5])
        + (f" (and {len(gaps) - 5} more)" if len(gaps) > 5 else "")
        + f", expected the same permissions on the {backup} resources (iam:SimulatePrincipalPolicy)")
    evidence.message = (f"{', '.join(r.rsplit('/', 1)[-1] for r in service_permissions.roles)}: the {len(allowed)} "
                        f"actions allowed on primary resources are allowed on their {backup} counterparts too")
