"""The demo's ECS cluster, services and task definitions, carrying the settings the other seeders set; or,
in the ``eks`` variant, its EKS cluster and the Deployments, Secrets and service accounts the EKS module and
the Helm chart create there (served by a loopback fake of the Kubernetes API)."""

from __future__ import annotations

import base64
import json
from typing import Any

from .context import SeedContext
from .roles import seed_irsa_grants, seed_roles

MUTATIONS: dict[str, str] = {
    "no-scheduler-service": "the scheduler ECS service does not exist",
    "efs-volume:server": "the server task definition mounts an EFS file system",
    "no-registry-replication": "the ECR registry has no replication rule to the backup region, and the backup "
                               "region has no copy of the image",
    "image-pushed-before-replication": "the replication rule exists but the running image was pushed before it: "
                                       "the backup region's repository does not have it",
    "image-tag-stale:backup": "the backup region's image tag points at another image digest",
    "unreplicated-secret:shared": "the shared-secrets secret has no replica in the backup region",
    "server-unavailable": "eks: the server Deployment has no available replica",
    "task-role-primary-only:drain": "the drain task role's KMS, S3 (and IoT) grants name the primary region's ARNs "
                                    "only (the official IAM module's shape)",
    "execution-role-primary-only": "the execution role may read the secrets and parameters in the primary region "
                                   "only",
    "ssm-parameter-missing:backup": "the read-only connection string's SSM parameter is not in the backup region",
}

IMAGE_TAG = "v3.0.0"
COMMANDS = {"server": ["spacelift", "backend", "server"], "drain": ["spacelift", "backend", "drain"],
            "scheduler": ["spacelift", "scheduler"]}
RESOURCES = {"server": ("1024", "2048"), "drain": ("2048", "4096"), "scheduler": ("256", "512")}

# A demo secret that a real installation would have: the admin password is plain env on the server in
# the official module. It must never appear in any output of the suite.
DEMO_ADMIN_PASSWORD = "demo-Adm1n-pa55word-never-shown"
DEMO_DB_PASSWORD = "demo-db-pa55word-never-shown"


def _secret(ctx: SeedContext, name: str, value: str) -> str:
    secrets = ctx.client("secretsmanager")
    return str(secrets.create_secret(Name=name, SecretString=value)["ARN"])


def _manifest(layer: str) -> str:
    """An image manifest (ECR derives the image digest from it: another layer, another digest)."""
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                                  "digest": "sha256:" + "c" * 64},
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                                   "digest": "sha256:" + layer * 64}]})


def _registry(ctx: SeedContext) -> None:
    """The backend and launcher repositories with the running image, and their copies in the backup region:
    the registry replicates later pushes, and the image running now was pushed (or copied) there too."""
    ecr = ctx.client("ecr")
    for kind in ("backend", "launcher"):
        ecr.create_repository(repositoryName=f"spacelift-{kind}-{ctx.suffix}")
    repository = f"spacelift-backend-{ctx.suffix}"
    ecr.put_image(repositoryName=repository, imageManifest=_manifest("a"), imageTag=IMAGE_TAG)
    if ctx.mutated("no-registry-replication"):
        return
    ecr.put_replication_configuration(replicationConfiguration={"rules": [{
        "destinations": [{"region": ctx.backup, "registryId": ctx.account}],
        "repositoryFilters": [{"filter": "spacelift-", "filterType": "PREFIX_MATCH"}]}]})
    if ctx.mutated("image-pushed-before-replication"):
        return  # the rule exists, but the running image was pushed before it: nothing copied it
    backup = ctx.client("ecr", ctx.backup)
    backup.create_repository(repositoryName=repository)
    # A mutable tag re-pushed in the backup region after a rebuild: same tag, another image.
    layer = "b" if ctx.mutated("image-tag-stale:backup") else "a"
    backup.put_image(repositoryName=repository, imageManifest=_manifest(layer), imageTag=IMAGE_TAG)


def _common_environment(ctx: SeedContext) -> None:
    """What the module sets for every service, and the server's own admin and webhook settings."""
    ctx.environment.update({
        "AWS_ACCOUNT_ID": ctx.account,
        "AWS_DEFAULT_REGION": ctx.primary,
        "AWS_REGION": ctx.primary,
        "AWS_PARTITION": "aws",
        "ENVIRONMENT": "prod",
        "LICENSE_TYPE": "jwt",
        "OBSERVABILITY_VENDOR": "Disabled",
    })
    ctx.environment.setdefault("SERVER_DOMAIN", "spacelift.demo-corp.example")
    ctx.service_environment["server"].update({
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": DEMO_ADMIN_PASSWORD,
        "WEBHOOKS_ENDPOINT": f"https://{ctx.environment['SERVER_DOMAIN']}/webhooks",
    })


def _irsa_role(ctx: SeedContext, role: str) -> str:
    """The IAM role a service account assumes (IRSA), trusting the cluster's OIDC provider."""
    issuer = f"oidc.eks.{ctx.primary}.amazonaws.com/id/DEMO{ctx.suffix.upper()}"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam::{ctx.account}:oidc-provider/{issuer}"},
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:spacelift:spacelift-{role}"}}}]}
    created = ctx.client("iam").create_role(RoleName=f"spacelift-{role}-{ctx.suffix}",
                                            AssumeRolePolicyDocument=json.dumps(trust))
    return str(created["Role"]["Arn"])


def _eks(ctx: SeedContext, image: str, dsn: str) -> None:
    """The EKS cluster and, in the fake Kubernetes API, what the module and the Helm chart put there."""
    from .kubernetes import FakeKubernetesApi, HelmRelease

    name = ctx.facts.setdefault("eks_cluster", f"spacelift-{ctx.suffix}")
    subnets = [s["SubnetId"] for s in ctx.client("ec2").describe_subnets()["Subnets"]][:2]
    ctx.client("eks").create_cluster(name=name, version="1.31",
                                     roleArn=f"arn:aws:iam::{ctx.account}:role/spacelift-eks-{ctx.suffix}",
                                     resourcesVpcConfig={"subnetIds": subnets})
    roles = {role: _irsa_role(ctx, role) for role in ("server", "drain", "scheduler")}
    seed_irsa_grants(ctx, roles)
    # The module's Secrets: the settings of every service in spacelift-shared (DATABASE_URL and LICENSE_TOKEN
    # in clear, as the module writes them), the server's and the drain's own in theirs. Settings the
    # server and drain share (the broker's) are in spacelift-shared too; the chart gives the scheduler no
    # Secret of its own, so a setting only it has is inline env of its container.
    server_env, drain_env = ctx.service_environment["server"], ctx.service_environment["drain"]
    common = {k: v for k, v in server_env.items() if drain_env.get(k) == v}
    shared = {**ctx.environment, **common, "DATABASE_URL": dsn, "LICENSE_TOKEN": "demo-license",
              **ctx.extra_environment}
    per_service = {role: {k: v for k, v in ctx.service_environment[role].items() if k not in common}
                   for role in ("server", "drain")}
    per_service["drain"].update({"LAUNCHER_IMAGE": image.rsplit(":", 1)[0].replace("backend", "launcher"),
                                 "LAUNCHER_IMAGE_TAG": IMAGE_TAG})
    release = HelmRelease(
        namespace="spacelift", image=image, shared=shared, per_service=per_service, role_arns=roles,
        server_domain=ctx.environment["SERVER_DOMAIN"],
        load_balancer_hostname=ctx.facts.get("broker", {}).get("server_dns", ""),
        absent=frozenset({"scheduler"} if ctx.mutated("no-scheduler-service") else set()),
        inline={"scheduler": dict(ctx.service_environment["scheduler"])},
        available={"server": 0} if ctx.mutated("server-unavailable") else {},
    )
    if ctx.mutated("efs-volume:server"):
        release.volumes["server"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "spacelift-data"}}]
        release.mounts["server"] = [{"name": "data", "mountPath": "/var/lib/spacelift"}]
    api = FakeKubernetesApi(cluster=name)
    api.add_all(release.objects())
    ctx.facts["kubernetes_api"] = api.start()
    ca = base64.b64encode(api.ca_pem).decode()

    def point_at_fake(_: dict[str, Any], parsed: dict[str, Any]) -> None:
        # moto invents an endpoint and CA; the demo's cluster API is the loopback fake.
        cluster = parsed.get("cluster") or {}
        cluster["endpoint"] = api.url
        cluster["certificateAuthority"] = {"data": ca}

    ctx.replay("eks", "DescribeCluster", point_at_fake)


def seed(ctx: SeedContext) -> None:
    ecr_backend = f"{ctx.account}.dkr.ecr.{ctx.primary}.amazonaws.com/spacelift-backend-{ctx.suffix}"
    _registry(ctx)
    database_host = ctx.facts.get("database", {}).get(
        "writer_endpoint", f"spacelift-{ctx.suffix}.cluster-demo.{ctx.primary}.rds.amazonaws.com")
    dsn = f"postgres://spacelift:{DEMO_DB_PASSWORD}@{database_host}:5432/spacelift?statement_cache_capacity=0"
    if ctx.variant == "eks":
        _common_environment(ctx)
        _eks(ctx, f"{ecr_backend}:{IMAGE_TAG}", dsn)
        return
    db_secret = _secret(ctx, f"spacelift/db-conn-string-{ctx.suffix}", json.dumps({"DATABASE_URL": dsn}))
    shared_secret = _secret(ctx, f"spacelift/shared-secrets-{ctx.suffix}", '{"LICENSE_TOKEN": "demo-license"}')
    ctx.facts["secrets"] = {"database": db_secret, "shared": shared_secret}
    for kind, arn in ctx.facts["secrets"].items():
        if not ctx.mutated(f"unreplicated-secret:{kind}"):
            ctx.client("secretsmanager").replicate_secret_to_regions(
                SecretId=arn, AddReplicaRegions=[{"Region": ctx.backup}])
    # The legacy installer kept the read-only connection string in Parameter Store; parameters never
    # replicate, so a DR-ready set-up creates the same parameter in the backup region.
    parameter = f"/spacelift/{ctx.suffix}/database-read-only-url"
    for region in (ctx.primary, ctx.backup):
        if region == ctx.backup and ctx.mutated("ssm-parameter-missing:backup"):
            continue
        ctx.client("ssm", region).put_parameter(Name=parameter, Type="SecureString", Value=dsn)
    ctx.secrets.setdefault("DATABASE_READ_ONLY_URL", f"arn:aws:ssm:{ctx.primary}:{ctx.account}:parameter{parameter}")
    ctx.secrets.setdefault("DATABASE_URL", f"{db_secret}:DATABASE_URL::")
    ctx.secrets.setdefault("LICENSE_TOKEN", f"{shared_secret}:LICENSE_TOKEN::")

    _common_environment(ctx)
    roles = seed_roles(ctx, sorted(ctx.secrets.values()))
    ecs = ctx.client("ecs")
    ecs.create_cluster(clusterName=ctx.facts.setdefault("ecs_cluster", f"spacelift-{ctx.suffix}"))
    task_definitions: dict[str, str] = {}
    for role in ("server", "drain", "scheduler"):
        environment = {**ctx.environment, **ctx.service_environment[role], **ctx.extra_environment}
        container: dict[str, Any] = {
            "name": role,
            "image": f"{ecr_backend}:{IMAGE_TAG}",
            "command": COMMANDS[role],
            "essential": True,
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(ctx.secrets.items())],
        }
        volumes: list[dict[str, Any]] = []
        if ctx.mutated(f"efs-volume:{role}"):
            volumes.append({"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-0123456789abcdef0"}})
            container["mountPoints"] = [{"sourceVolume": "data", "containerPath": "/var/lib/spacelift"}]
        cpu, memory = RESOURCES[role]
        registered = ecs.register_task_definition(
            family=f"{role}-{ctx.suffix}", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            taskRoleArn=roles[role][0], executionRoleArn=roles[role][1],
            cpu=cpu, memory=memory, containerDefinitions=[container], volumes=volumes)
        arn = registered["taskDefinition"]["taskDefinitionArn"]
        task_definitions[role] = arn
        if role == "scheduler" and ctx.mutated("no-scheduler-service"):
            continue
        ecs.create_service(cluster=ctx.facts["ecs_cluster"], serviceName=role, taskDefinition=arn,
                           desiredCount=3, launchType="FARGATE",
                           loadBalancers=ctx.facts.get("load_balancers", {}).get(role, []))
    ctx.facts["task_definitions"] = task_definitions
