"""Facts about what replacement services would need in the backup region: their task definitions'
volumes, where their images come from (and the ECR registry's replication), and their secrets' replicas.

Parsing and decisions are pure; :class:`ServiceFacts` makes the reads once per run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..aws import AwsAccess
from ..errors import Unobservable
from ..installation import Service
from .s3 import arn_region

_ECR_PRIVATE = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2})"
    r"\.amazonaws\.com(\.cn)?$")
DOCKER_HUB = "docker.io"


# -- volumes -------------------------------------------------------------------------------------------


_EPHEMERAL_KUBERNETES = {"emptyDir", "configMap", "secret", "projected", "downwardAPI", "ephemeral"}


def persistent_kubernetes_kind(volume: dict[str, Any]) -> str | None:
    """What makes a pod volume outlive its pod: a PersistentVolumeClaim, a host path, an EFS (or any other)
    CSI volume but the Secrets Store one, NFS, EBS. ``emptyDir``, ConfigMaps, Secrets, projected and
    generic ephemeral volumes die with the pod."""
    if volume.get("persistentVolumeClaim"):
        return "PersistentVolumeClaim " + str(volume["persistentVolumeClaim"].get("claimName", "?"))
    if volume.get("hostPath"):
        return "host path " + str(volume["hostPath"].get("path", "?"))
    csi = volume.get("csi")
    if csi:
        driver = str(csi.get("driver", "?"))
        if driver == "secrets-store.csi.k8s.io":
            return None  # mounts secrets read from AWS: nothing is written there
        return ("EFS CSI volume" if driver == "efs.csi.aws.com" else f"CSI volume ({driver})")
    for kind, label in (("nfs", "NFS volume"), ("awsElasticBlockStore", "EBS volume")):
        if volume.get(kind):
            return label
    return None


def persistent_kind(volume: dict[str, Any]) -> str | None:
    """What makes a task-definition (or pod) volume outlive its task, or None for an ephemeral one.

    EFS and FSx file systems and host paths keep data; a Docker volume does when it is ``shared``
    (``task``-scoped Docker volumes and bind mounts without a source path die with the task). Pod
    volumes: see :func:`persistent_kubernetes_kind`.
    """
    kubernetes = persistent_kubernetes_kind(volume)
    if kubernetes is not None:
        return kubernetes
    if volume.get("efsVolumeConfiguration"):
        return "EFS file system " + str(volume["efsVolumeConfiguration"].get("fileSystemId", "?"))
    if volume.get("fsxWindowsFileServerVolumeConfiguration"):
        return "FSx file system " + str(volume["fsxWindowsFileServerVolumeConfiguration"].get("fileSystemId", "?"))
    host = volume.get("host") or {}
    if host.get("sourcePath"):
        return f"host path {host['sourcePath']}"
    docker = volume.get("dockerVolumeConfiguration")
    if docker and docker.get("scope") == "shared":
        return "shared Docker volume" + (f" (driver {docker['driver']})" if docker.get("driver") else "")
    return None


def persistent_mounts(service: Service) -> list[dict[str, str]]:
    """The persistent volumes some container of the task definition mounts."""
    mounted: dict[str, list[str]] = {}
    for container in service.containers:
        for point in container.mount_points:
            source = point.get("sourceVolume")
            if source:
                mounted.setdefault(str(source), []).append(f"{container.name}:{point.get('containerPath', '?')}")
    found = []
    for volume in service.volumes:
        kind = persistent_kind(volume)
        name = str(volume.get("name", ""))
        if kind and name in mounted:
            found.append({"volume": name, "kind": kind, "mounted_at": ", ".join(mounted[name])})
    return found


# -- images --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """A container image reference split into registry and repository (Docker's rules)."""

    reference: str
    registry: str
    repository: str

    @classmethod
    def parse(cls, reference: str) -> Image:
        name = reference.split("@", 1)[0]
        last = name.rsplit("/", 1)[-1]
        if ":" in last:  # a tag (a colon before the last slash is a registry port)
            name = name[: len(name) - len(last)] + last.split(":", 1)[0]
        first, slash, rest = name.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            return cls(reference, first.lower(), rest)
        repository = name if slash else f"library/{name}"
        return cls(reference, DOCKER_HUB, repository)

    @property
    def _ecr(self) -> re.Match[str] | None:
        return _ECR_PRIVATE.match(self.registry)

    @property
    def in_private_ecr(self) -> bool:
        """In a private ECR registry, which lives in one region of one account."""
        return self._ecr is not None

    @property
    def ecr_region(self) -> str | None:
        match = self._ecr
        return match.group("region") if match else None

    @property
    def ecr_account(self) -> str | None:
        match = self._ecr
        return match.group("account") if match else None

    @property
    def digest(self) -> str | None:
        """``sha256:…`` when the reference pins a digest (``repo@sha256:…``)."""
        return self.reference.split("@", 1)[1] if "@" in self.reference else None

    @property
    def tag(self) -> str:
        """The tag the reference names (Docker's default ``latest`` when it names neither tag nor digest)."""
        last = self.reference.split("@", 1)[0].rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else "latest"

    @property
    def image_id(self) -> dict[str, str]:
        """ECR's ``imageIds`` entry for this reference: the digest when pinned, else the tag."""
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag}

    @property
    def version(self) -> str:
        return self.digest or self.tag

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {"image": self.reference, "registry": self.registry, "repository": self.repository}
        if self.in_private_ecr:
            data.update(ecr_account=self.ecr_account, ecr_region=self.ecr_region)
        return data


@dataclass(frozen=True)
class RegistryReplicationRule:
    destinations: tuple[tuple[str, str], ...]  # (region, registryId)
    filters: tuple[tuple[str, str], ...]  # (filter, filterType)

    @classmethod
    def from_api(cls, rule: dict[str, Any]) -> RegistryReplicationRule:
        return cls(
            destinations=tuple((str(d.get("region", "")), str(d.get("registryId", "")))
                               for d in rule.get("destinations") or []),
            filters=tuple((str(f.get("filter", "")), str(f.get("filterType", "")))
                          for f in rule.get("repositoryFilters") or []),
        )

    def matches(self, repository: str) -> bool:
        """No filter matches every repository; PREFIX_MATCH filters match by name prefix."""
        if not self.filters:
            return True
        return any(kind == "PREFIX_MATCH" and repository.startswith(value) for value, kind in self.filters)

    def replicates_to(self, region: str) -> bool:
        return any(dest_region == region for dest_region, _ in self.destinations)

    def summary(self) -> dict[str, Any]:
        return {"destinations": [{"region": r, "registryId": a} for r, a in self.destinations],
                "repositoryFilters": [{"filter": f, "filterType": t} for f, t in self.filters]}


@dataclass(frozen=True)
class RegistryReplication:
    """``DescribeRegistry``'s replication configuration of one registry (account and region)."""

    registry_id: str
    rules: tuple[RegistryReplicationRule, ...]

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> RegistryReplication:
        configuration = response.get("replicationConfiguration") or {}
        return cls(registry_id=str(response.get("registryId", "")),
                   rules=tuple(RegistryReplicationRule.from_api(r) for r in configuration.get("rules") or []))

    def rules_replicating(self, repository: str, region: str) -> list[RegistryReplicationRule]:
        return [r for r in self.rules if r.matches(repository) and r.replicates_to(region)]


# -- secrets -------------------------------------------------------------------------------------------


def secret_arn(value_from: str) -> str | None:
    """The Secrets Manager secret ARN of a ``valueFrom``, without the ``:json-key:stage:version`` part.

    ``arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:DATABASE_URL::`` → ``…:secret:db-AbCdEf``.
    SSM parameters (``arn:aws:ssm:…`` or a bare parameter name) are not Secrets Manager secrets: None.
    """
    parts = value_from.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager" or parts[5] != "secret":
        return None
    return ":".join(parts[:7])


def secret_name(arn: str) -> str:
    """The secret's name: the ARN's last field without the six characters Secrets Manager appends."""
    return re.sub(r"-[A-Za-z0-9]{6}$", "", arn.split(":secret:", 1)[-1])


@dataclass(frozen=True)
class SecretReplica:
    region: str
    status: str
    message: str | None

    @property
    def in_sync(self) -> bool:
        return self.status == "InSync"


@dataclass(frozen=True)
class SecretReplication:
    """``DescribeSecret``: where the secret lives and its replicas' status."""

    arn: str
    name: str
    primary_region: str | None
    replicas: tuple[SecretReplica, ...]

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> SecretReplication:
        return cls(arn=str(response.get("ARN", "")), name=str(response.get("Name", "")),
                   primary_region=response.get("PrimaryRegion") or arn_region(response.get("ARN")),
                   replicas=tuple(SecretReplica(str(r.get("Region", "")), str(r.get("Status", "")),
                                                r.get("StatusMessage"))
                                  for r in response.get("ReplicationStatus") or []))

    def replica_in(self, region: str) -> SecretReplica | None:
        return next((r for r in self.replicas if r.region == region), None)

    def summary(self) -> dict[str, Any]:
        return {"Name": self.name, "PrimaryRegion": self.primary_region,
                "ReplicationStatus": [{"Region": r.region, "Status": r.status, "StatusMessage": r.message}
                                      for r in self.replicas]}


@dataclass(frozen=True)
class ParameterReference:
    """An SSM Parameter Store reference of a task definition (``valueFrom``): a parameter ARN, or a bare
    name for a parameter in the task's own region. Parameters never replicate: a replacement task in the
    backup region needs a parameter of the same name there."""

    arn: str
    region: str
    name: str  # as written: "/spacelift/db-url" or "db-url"

    @classmethod
    def parse(cls, value_from: str, home_region: str, account: str,
              partition: str = "aws") -> ParameterReference | None:
        parts = value_from.split(":", 5)
        if value_from.startswith("arn:"):
            if len(parts) < 6 or parts[2] != "ssm" or not parts[5].startswith("parameter"):
                return None
            resource = parts[5].removeprefix("parameter")
            name = resource if resource.count("/") > 1 else resource.removeprefix("/")
            return cls(value_from, parts[3] or home_region, name)
        if ":" in value_from or not value_from:
            return None
        path = value_from if value_from.startswith("/") else f"/{value_from}"
        return cls(f"arn:{partition}:ssm:{home_region}:{account}:parameter{path}", home_region, value_from)

    @property
    def names(self) -> list[str]:
        """The names the ARN may stand for: ``parameter/x`` is the ARN of both ``x`` and ``/x``."""
        bare = self.name.lstrip("/")
        return [self.name] if "/" in bare else list(dict.fromkeys([self.name, bare, f"/{bare}"]))


# -- reads ---------------------------------------------------------------------------------------------


class ServiceFacts:
    """ECR and Secrets Manager reads for the replacement-service checks, each made once per run."""

    def __init__(self, aws: AwsAccess) -> None:
        self._aws = aws

    def registry_replication(self, image: Image) -> RegistryReplication:
        """The replication configuration of the registry holding ``image`` (a private ECR image)."""
        region = image.ecr_region
        assert region is not None, "only private ECR images have a registry replication configuration"
        response = self._aws.call("ecr", region, "DescribeRegistry",
                                  resource=f"ecr registry {image.ecr_account} in {region}")
        assert response is not None
        replication = RegistryReplication.from_api(response)
        if replication.registry_id and image.ecr_account and replication.registry_id != image.ecr_account:
            # DescribeRegistry only describes the caller's own registry: another account's is unobservable.
            raise Unobservable("ecr:DescribeRegistry", f"ecr registry {image.ecr_account} in {region}",
                               f"the image is in account {image.ecr_account}'s registry, the credentials "
                               f"read account {replication.registry_id}'s")
        return replication

    def replication_rules_shown(self, image: Image, region: str) -> list[dict[str, Any]] | str:
        """The registry rules replicating the image's repository to ``region``, for the evidence only: the
        verdict rests on the images found there (a rule copies only later pushes)."""
        try:
            return [r.summary() for r in self.registry_replication(image).rules_replicating(image.repository, region)]
        except Unobservable as error:
            return f"not observed ({error})"

    def secret(self, arn: str) -> SecretReplication | None:
        """The secret's replication, or None when the referenced secret does not exist."""
        response = self._aws.call("secretsmanager", arn_region(arn) or "us-east-1", "DescribeSecret",
                                  resource=arn, absent=("ResourceNotFoundException",), SecretId=arn)
        return None if response is None else SecretReplication.from_api(response)

    def parameters_named(self, region: str, names: list[str]) -> list[str]:
        """The names of the SSM parameters in ``region`` among ``names`` (``DescribeParameters``: metadata
        only, never a value)."""
        found = self._aws.paginate("ssm", region, "DescribeParameters", "Parameters",
                                   resource=f"ssm parameter {names[0]} in {region}",
                                   ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": names}])
        assert found is not None
        return sorted(str(p.get("Name", "")) for p in found if p.get("Name") in names)

    def image_digest(self, image: Image, region: str) -> str | None:
        """The digest the image's tag (or pinned digest) has in the repository of the same name in ``region``
        (``DescribeImages``); None when that repository or that image is not there."""
        resource = f"{image.repository}:{image.version} in {region}"
        response = self._aws.call("ecr", region, "DescribeImages", resource=resource,
                                  absent=("RepositoryNotFoundException", "ImageNotFoundException"),
                                  repositoryName=image.repository, registryId=image.ecr_account or "",
                                  imageIds=[image.image_id])
        if response is None:
            return None
        details = response.get("imageDetails") or []
        digests = {str(d.get("imageDigest")) for d in details if d.get("imageDigest")}
        if len(digests) != 1:
            raise Unobservable("ecr:DescribeImages", resource,
                               f"expected one image with a digest, the answer has {len(digests)}")
        return digests.pop()
