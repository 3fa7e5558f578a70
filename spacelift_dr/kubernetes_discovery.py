"""Discovery of an installation on Kubernetes (EKS): Deployments → pod templates → settings.

The official Helm chart runs ``server``, ``drain`` and ``scheduler`` as Deployments whose containers take
their settings from inline ``env`` and from ``envFrom`` Secrets (the EKS module writes ``spacelift-shared``,
``spacelift-server`` and ``spacelift-drain``); ConfigMaps work the same way. The result is the same
:class:`~spacelift_dr.installation.Service` the ECS discovery builds, each setting naming where it came
from. A Secret's value is kept only for setting names that are not secret (bucket names, key ids,
endpoints, regions, queue URLs); for the others only the presence and the source are kept, except
``DATABASE_URL``'s DSN without its password when ``database.cluster_identifier`` is not given (the
database is then found from its host).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from .errors import Unobservable
from .installation import SERVICES, Container, Service, Workload
from .kubernetes_api import KubernetesAccess
from .redaction import is_secret_name

if TYPE_CHECKING:
    from .config import Config

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
# A Secret synced from AWS whose AWS origin cannot be read (a ClusterSecretStore is cluster-scoped).
UNRESOLVED = "unresolved:"
_DSN_SETTING = re.compile(r"^DATABASE(_[A-Z0-9]+)*_URL$")


def is_secret_setting(name: str) -> bool:
    """A setting whose value the suite never keeps from a Kubernetes Secret: passwords, tokens, keys,
    the license and every database URL (they carry credentials)."""
    return is_secret_name(name) or "LICENSE" in name.upper() or bool(_DSN_SETTING.match(name.upper()))


def dsn_without_password(dsn: str) -> str | None:
    """``postgres://user:pw@host:5432/db?x=y`` → ``postgres://user@host:5432/db``: enough to find the
    database by its host, with the password (and any query parameter, which may hold one) dropped."""
    try:
        parts = urlsplit(dsn.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}" + (f":{port}" if port else ""), parts.path, "", ""))


@dataclass
class _Entry:
    value: str | None = None
    secret_ref: str | None = None
    kept: str | None = None  # a value kept beside a secret reference (the DSN without password)
    source: str = ""


@dataclass
class _ContainerSettings:
    entries: dict[str, _Entry] = field(default_factory=dict)

    def container(self, name: str, image: str, mounts: tuple[dict[str, Any], ...]) -> Container:
        environment = {k: e.value or "" for k, e in self.entries.items() if e.secret_ref is None}
        secrets = {k: e.secret_ref for k, e in self.entries.items() if e.secret_ref is not None}
        return Container(name=name, image=image, environment=environment, secrets=secrets, mount_points=mounts,
                         sources={k: e.source for k, e in self.entries.items()},
                         secret_values={k: e.kept for k, e in self.entries.items() if e.kept is not None})


class DeploymentReader:
    """Reads the Deployments of one namespace and what their pod templates load."""

    def __init__(self, access: KubernetesAccess, namespace: str, keep_database_host: bool, region: str = "",
                 account: Callable[[], str | None] = lambda: None) -> None:
        self._access = access
        self._namespace = namespace
        self._keep_database_host = keep_database_host
        self._region = region  # the cluster's: the default region of the AWS providers
        self._account = account
        # Kubernetes Secret → its key → the AWS secret it is synced from (External Secrets, Secrets Store CSI)
        self._synced: dict[str, dict[str, str]] = {}
        self._owners_read: set[str] = set()

    # -- where a Secret comes from ----------------------------------------------------------------------

    def _aws_reference(self, service: str, key: str, region: str) -> str:
        """The reference ECS would write for the same secret: a Secrets Manager or SSM ARN (a partial
        Secrets Manager ARN, without the random suffix, when the key is a name: DescribeSecret accepts it)."""
        if key.startswith("arn:"):
            return key
        account = self._account()
        if service == "ssm":
            return f"arn:aws:ssm:{region}:{account or ''}:parameter/{key.lstrip('/')}"
        return f"arn:aws:secretsmanager:{region}:{account or ''}:secret:{key}"

    def _external_secret(self, secret: str, owner: dict[str, Any]) -> None:
        """An External Secrets operator's ExternalSecret owns the Secret: its keys come from the AWS
        secrets its ``data[].remoteRef.key`` names, in the region of its SecretStore."""
        group, _, version = str(owner.get("apiVersion", "external-secrets.io/v1beta1")).partition("/")
        external = self._access.get(group, "externalsecrets", self._namespace, str(owner.get("name")), version)
        if external is None:
            return
        spec = external.get("spec") or {}
        store_ref = spec.get("secretStoreRef") or {}
        service, region, unresolved = "secretsmanager", self._region, None
        if store_ref.get("kind") == "ClusterSecretStore":
            # Cluster-scoped: not readable with the namespaced Role. A key's own ARN still says where.
            unresolved = (f"{UNRESOLVED}ExternalSecret {owner.get('name')} through ClusterSecretStore "
                          f"{store_ref.get('name')}")
        elif store_ref.get("name"):
            store = self._access.get(group, "secretstores", self._namespace, str(store_ref["name"]), version) or {}
            aws = ((store.get("spec") or {}).get("provider") or {}).get("aws") or {}
            service = "ssm" if aws.get("service") == "ParameterStore" else "secretsmanager"
            region = str(aws.get("region") or region)
        synced = self._synced.setdefault(secret, {})

        def origin(key: str) -> str:
            return unresolved if unresolved and not key.startswith("arn:") else self._aws_reference(service, key,
                                                                                                    region)
        for item in spec.get("data") or []:
            key = str((item.get("remoteRef") or {}).get("key", ""))
            if key and item.get("secretKey"):
                synced[str(item["secretKey"])] = origin(key)
        for item in spec.get("dataFrom") or []:
            key = str((item.get("extract") or {}).get("key", ""))
            if key:
                synced.setdefault("*", origin(key))

    def csi_volumes(self, pod: dict[str, Any]) -> None:
        """Secrets Store CSI volumes of the pod: a SecretProviderClass of the AWS provider syncs its objects
        into Kubernetes Secrets (``secretObjects``)."""
        for volume in pod.get("volumes") or []:
            csi = volume.get("csi") or {}
            name = (csi.get("volumeAttributes") or {}).get("secretProviderClass")
            if csi.get("driver") != "secrets-store.csi.k8s.io" or not name:
                continue
            spc = self._access.get("secrets-store.csi.x-k8s.io", "secretproviderclasses", self._namespace,
                                   str(name)) or {}
            spec = spc.get("spec") or {}
            if spec.get("provider") != "aws":
                continue
            parameters = spec.get("parameters") or {}
            region = str(parameters.get("region") or self._region)
            try:
                objects = yaml.safe_load(str(parameters.get("objects") or "[]")) or []
            except yaml.YAMLError:
                raise Unobservable("kubernetes:get secretproviderclasses.secrets-store.csi.x-k8s.io",
                                   f"{self._namespace}/{name}", "parameters.objects is not YAML") from None
            by_name = {}
            for item in objects if isinstance(objects, list) else []:
                service = "ssm" if item.get("objectType") == "ssmparameter" else "secretsmanager"
                reference = self._aws_reference(service, str(item.get("objectName", "")), region)
                by_name[str(item.get("objectAlias") or item.get("objectName"))] = reference
                by_name.setdefault(str(item.get("objectName")), reference)
            for synced in spec.get("secretObjects") or []:
                target = self._synced.setdefault(str(synced.get("secretName")), {})
                for entry in synced.get("data") or []:
                    if str(entry.get("objectName")) in by_name:
                        target[str(entry.get("key"))] = by_name[str(entry["objectName"])]

    # -- objects --------------------------------------------------------------------------------------

    def _config_map(self, name: str) -> dict[str, str] | None:
        found = self._access.get("", "configmaps", self._namespace, name)
        return None if found is None else {str(k): str(v) for k, v in (found.get("data") or {}).items()}

    def _secret(self, name: str) -> dict[str, str] | None:
        """The Secret's keys and base64 values (decoded only for the names that may be kept)."""
        found = self._access.get("", "secrets", self._namespace, name)
        if found is None:
            return None
        if name not in self._owners_read:
            self._owners_read.add(name)
            for owner in (found.get("metadata") or {}).get("ownerReferences") or []:
                if owner.get("kind") == "ExternalSecret":
                    self._external_secret(name, owner)
        return {str(k): str(v) for k, v in (found.get("data") or {}).items()}

    def _from_secret(self, setting: str, secret: str, key: str, encoded: str) -> _Entry:
        source = f"Secret {self._namespace}/{secret}"
        reference = f"kubernetes:secret/{self._namespace}/{secret}#{key}"
        synced = self._synced.get(secret, {})
        origin = synced.get(key) or synced.get("*")
        if origin is not None and origin.startswith(UNRESOLVED):
            # Synced from AWS, but from where cannot be read: the reference says so (DR-SVC-04 is ERROR).
            reference = f"{origin}#{secret}/{key}"
            source += " (synced through a ClusterSecretStore)"
        elif origin is not None:
            # The Secret is a copy of an AWS secret: the AWS secret is what a replacement cluster reads.
            reference = origin
            source += " (synced from " + ("SSM Parameter Store" if ":ssm:" in origin else "Secrets Manager") + ")"
        if is_secret_setting(setting):
            kept = None
            if self._keep_database_host and setting == "DATABASE_URL":
                kept = dsn_without_password(_decoded(encoded, source, key))
            return _Entry(secret_ref=reference, kept=kept, source=source)
        if origin is not None:  # not secret, and what a replacement reads from AWS: value and reference
            return _Entry(secret_ref=reference, kept=_decoded(encoded, source, key), source=source)
        return _Entry(value=_decoded(encoded, source, key), source=source)

    # -- a pod template's settings -------------------------------------------------------------------

    def container_settings(self, container: dict[str, Any]) -> _ContainerSettings:
        """Kubernetes' order: ``envFrom`` sources in turn (a later one wins), then ``env`` over them."""
        found = _ContainerSettings()
        for source in container.get("envFrom") or []:
            prefix = str(source.get("prefix") or "")
            if source.get("configMapRef"):
                name = str(source["configMapRef"].get("name", ""))
                data = self._config_map(name)
                for key, value in (data or {}).items():
                    found.entries[prefix + key] = _Entry(value=value, source=f"ConfigMap {self._namespace}/{name}")
            elif source.get("secretRef"):
                name = str(source["secretRef"].get("name", ""))
                secret = self._secret(name)
                for key, encoded in (secret or {}).items():
                    found.entries[prefix + key] = self._from_secret(prefix + key, name, key, encoded)
        for variable in container.get("env") or []:
            name = str(variable.get("name", ""))
            if "value" in variable or not variable.get("valueFrom"):
                found.entries[name] = _Entry(value=str(variable.get("value", "")),
                                             source=f"env of container {container.get('name')}")
                continue
            value_from = variable["valueFrom"]
            if value_from.get("configMapKeyRef"):
                ref = value_from["configMapKeyRef"]
                data = self._config_map(str(ref.get("name", ""))) or {}
                if str(ref.get("key")) in data:
                    found.entries[name] = _Entry(value=data[str(ref["key"])],
                                                 source=f"ConfigMap {self._namespace}/{ref.get('name')}")
            elif value_from.get("secretKeyRef"):
                ref = value_from["secretKeyRef"]
                secret = self._secret(str(ref.get("name", ""))) or {}
                if str(ref.get("key")) in secret:
                    found.entries[name] = self._from_secret(name, str(ref["name"]), str(ref["key"]),
                                                            secret[str(ref["key"])])
            # fieldRef / resourceFieldRef are the pod's own facts (its IP, its limits), not Spacelift settings.
        return found

    # -- a Deployment ---------------------------------------------------------------------------------

    def service(self, role: str, name: str) -> Service | None:
        deployment = self._access.get("apps", "deployments", self._namespace, name)
        if deployment is None:
            return None
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        self.csi_volumes(pod)
        containers = []
        for definition in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
            mounts = tuple({"sourceVolume": m.get("name"), "containerPath": m.get("mountPath")}
                           for m in definition.get("volumeMounts") or [])
            settings = self.container_settings(definition)
            containers.append(settings.container(str(definition.get("name", "")), str(definition.get("image", "")),
                                                 mounts))
        account = str(pod.get("serviceAccountName") or pod.get("serviceAccount") or "default")
        role_arn = self.irsa_role(account)
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        workload = Workload(
            namespace=self._namespace, name=name,
            replicas=int(spec["replicas"]) if spec.get("replicas") is not None else 1,
            available_replicas=int(status.get("availableReplicas") or 0),
            service_account=account,
        )
        return Service(role=role, ecs_service=name, task_definition_arn=f"deployment {self._namespace}/{name}",
                       containers=tuple(containers), volumes=tuple(pod.get("volumes") or []),
                       task_role_arn=role_arn, workload=workload)

    def irsa_role(self, account: str) -> str | None:
        """The IAM role the service account assumes (IRSA), or None when it has none."""
        found = self._access.get("", "serviceaccounts", self._namespace, account)
        if found is None:
            return None
        annotations = (found.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(IRSA_ANNOTATION)
        return str(value) if value else None

    def server_load_balancer_hostnames(self, server: Service) -> tuple[str, ...]:
        """DNS names of the load balancers in front of the server: its ``LoadBalancer`` Services and the
        Ingresses routing to its Services (``status.loadBalancer.ingress[].hostname``)."""
        template = server.workload
        assert template is not None
        labels = self._pod_labels(template.name)
        services = [s for s in self._access.list("", "services", self._namespace)
                    if _selects((s.get("spec") or {}).get("selector") or {}, labels)]
        names = {str((s.get("metadata") or {}).get("name")) for s in services}
        hostnames = [h for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"
                     for h in _lb_hostnames(s)]
        for ingress in self._access.list("networking.k8s.io", "ingresses", self._namespace):
            if names & _ingress_backends(ingress):
                hostnames += _lb_hostnames(ingress)
        return tuple(dict.fromkeys(hostnames))

    def _pod_labels(self, deployment: str) -> dict[str, str]:
        found = self._access.get("apps", "deployments", self._namespace, deployment) or {}
        template = (found.get("spec") or {}).get("template") or {}
        return {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}


def _decoded(encoded: str, source: str, key: str) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Unobservable("kubernetes:get secrets", source, f"key {key} is not base64-encoded UTF-8") from None


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


def _lb_hostnames(obj: dict[str, Any]) -> list[str]:
    ingress = (((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    return [str(i["hostname"]) for i in ingress if i.get("hostname")]


def _ingress_backends(ingress: dict[str, Any]) -> set[str]:
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    backends += [p.get("backend") or {} for rule in spec.get("rules") or []
                 for p in ((rule.get("http") or {}).get("paths") or [])]
    return {str((b.get("service") or {}).get("name")) for b in backends if b.get("service")}


def discover_deployments(config: Config, access: KubernetesAccess,
                         account: Callable[[], str | None] = lambda: None) -> dict[str, Service]:
    """The services found as Deployments (a missing one is DR-SVC-01's finding). ``account`` is asked
    only when a Secret is synced from an AWS secret named without its ARN."""
    cluster = config.installation.discover.cluster
    section = config.installation
    reader = DeploymentReader(access, cluster.namespace, keep_database_host=config.database.cluster_identifier is None,
                              region=section.primary_region,
                              account=(lambda: section.account_id) if section.account_id else account)
    names = cluster.deployments.model_dump()
    services: dict[str, Service] = {}
    for role in SERVICES:
        if names[role] is None:
            continue  # declared not deployed (the scheduler on Spacelift v6.4.0 and later)
        found = reader.service(role, names[role])
        if found is not None:
            services[role] = found
    server = services.get("server")
    if server is not None and server.workload is not None:
        hostnames = reader.server_load_balancer_hostnames(server)
        services["server"] = replace(server, workload=replace(server.workload, load_balancer_hostnames=hostnames))
    return services
