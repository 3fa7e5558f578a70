"""Read-only, cached, counted access to a Kubernetes API (the services' Deployments on EKS).

The official ``kubernetes`` client makes every request. :class:`KubernetesAccess` refuses any verb and
resource outside :data:`READ_ONLY_KUBERNETES` before a request is built (the published RBAC Role grants
exactly these, see ``policy/``), makes each distinct read once per run, counts it with the AWS calls and
turns every failure into :class:`Unobservable` naming the verb, the resource and the object.

With ``discover.eks_cluster`` the suite needs only AWS credentials: ``eks:DescribeCluster`` gives the
endpoint and CA, and the bearer token is the one ``aws eks get-token`` makes: a presigned
``sts:GetCallerIdentity`` URL carrying the cluster name in the signed ``x-k8s-aws-id`` header,
base64url-encoded without padding behind ``k8s-aws-v1.``. Presigning is local: nothing is sent to STS.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aws import AwsAccess, CallCounter, record_action
from .errors import ReadOnlyViolation, Unobservable

if TYPE_CHECKING:
    from .config import Config

# (API group, resource, verb) the discovery reads; "" is the core group. The RBAC Role in policy/ is
# generated from this list, and the fake API of the demo and tests enforces that Role.
READ_ONLY_KUBERNETES: tuple[tuple[str, str, str], ...] = (
    ("apps", "deployments", "get"),
    ("", "configmaps", "get"),
    ("", "secrets", "get"),
    ("", "serviceaccounts", "get"),
    ("", "services", "list"),
    ("networking.k8s.io", "ingresses", "list"),
    ("external-secrets.io", "externalsecrets", "get"),
    ("external-secrets.io", "secretstores", "get"),
    ("secrets-store.csi.x-k8s.io", "secretproviderclasses", "get"),
)

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# aws eks get-token presigns for 60 s; EKS accepts a token for 15 minutes after its X-Amz-Date.
TOKEN_EXPIRES_SECONDS = 60
TOKEN_REFRESH_SECONDS = 10 * 60

_DENIED_STATUS = {401, 403}


def action_of(verb: str, resource: str) -> str:
    """The name errors, evidence and the call count give a Kubernetes read: ``kubernetes:get secrets``."""
    return f"kubernetes:{verb} {resource}"


def eks_token(aws: AwsAccess, region: str, cluster: str) -> str:
    """The bearer token EKS accepts for ``cluster``, as ``aws eks get-token`` builds it."""
    client = aws.presigning_client("sts", region)

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster

    client.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=TOKEN_EXPIRES_SECONDS,
                                        HttpMethod="GET")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class ClusterEndpoint:
    """Where an EKS cluster's API is and the CA its certificate is signed by (``DescribeCluster``)."""

    name: str
    endpoint: str
    ca_data: bytes

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> ClusterEndpoint:
        cluster = response.get("cluster") or {}
        name = str(cluster.get("name", ""))
        endpoint = cluster.get("endpoint")
        ca = (cluster.get("certificateAuthority") or {}).get("data")
        if not endpoint or not ca:
            raise Unobservable("eks:DescribeCluster", name or "eks cluster",
                               f"the cluster is {cluster.get('status', 'in an unknown state')} and has no API "
                               f"endpoint or certificate authority yet")
        try:
            ca_data = base64.b64decode(ca, validate=True)
        except ValueError:
            raise Unobservable("eks:DescribeCluster", name, "certificateAuthority.data is not base64") from None
        return cls(name, str(endpoint), ca_data)


class KubernetesAccess:
    """Read-only access to one namespace's objects: interlock, cache and counter."""

    def __init__(self, api_client: Any, cluster: str, counter: CallCounter) -> None:
        self._api = api_client
        self.cluster = cluster
        self._counter = counter
        self._cache: dict[str, dict[str, Any] | Unobservable | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_eks(cls, aws: AwsAccess, region: str, cluster: str) -> KubernetesAccess:
        from kubernetes import client

        described = aws.call("eks", region, "DescribeCluster", resource=f"eks cluster {cluster}", name=cluster)
        assert described is not None
        endpoint = ClusterEndpoint.from_api(described)
        configuration = client.Configuration(host=endpoint.endpoint, ca_cert_data=endpoint.ca_data.decode("utf-8"))
        minted: list[float] = []

        def refresh(conf: Any) -> None:
            # A token lasts 15 minutes; a long run gets a fresh one before that.
            if not minted or time.monotonic() - minted[0] > TOKEN_REFRESH_SECONDS:
                conf.api_key["authorization"] = eks_token(aws, region, cluster)
                conf.api_key_prefix["authorization"] = "Bearer"
                minted[:] = [time.monotonic()]

        configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
        refresh(configuration)
        return cls(client.ApiClient(configuration), f"EKS cluster {cluster}", aws.calls)

    @classmethod
    def for_kubeconfig(cls, kubeconfig: str | None, context: str | None, counter: CallCounter) -> KubernetesAccess:
        from kubernetes import config as kube_config
        from kubernetes.config.config_exception import ConfigException

        where = kubeconfig or "the default kubeconfig"
        try:
            api_client = kube_config.new_client_from_config(config_file=kubeconfig, context=context)
        except (ConfigException, OSError) as error:
            raise Unobservable("kubernetes:kubeconfig", where, str(error)) from None
        return cls(api_client, f"context {context}" if context else where, counter)

    # -- reads -------------------------------------------------------------------------------------

    def get(self, group: str, resource: str, namespace: str, name: str, version: str = "v1") -> dict[str, Any] | None:
        """One object, or None when it does not exist (404)."""
        return self._read(group, resource, "get", namespace, name, version)

    def list(self, group: str, resource: str, namespace: str) -> list[dict[str, Any]]:
        found = self._read(group, resource, "list", namespace, None, "v1")
        assert found is not None
        return list(found.get("items") or [])

    def _read(self, group: str, resource: str, verb: str, namespace: str, name: str | None,
              version: str) -> dict[str, Any] | None:
        action = action_of(verb, resource if not group else f"{resource}.{group}")
        if (group, resource, verb) not in READ_ONLY_KUBERNETES:
            raise ReadOnlyViolation(action)
        target = f"{namespace}/{name}" if name else f"namespace {namespace}"
        record_action(action, target)
        key = json.dumps([group, version, resource, verb, namespace, name])
        with self._lock:
            if key in self._cache:
                self._counter.hit()
                cached = self._cache[key]
                if isinstance(cached, Unobservable):
                    raise cached
                return cached
            try:
                result = self._send(group, resource, verb, namespace, name, version, action, target)
            except Unobservable as error:
                self._cache[key] = error
                self._counter.count(action, key, 0)
                raise
            self._cache[key] = result
            self._counter.count(action, key, 0)
            return result

    def _send(self, group: str, resource: str, verb: str, namespace: str, name: str | None, version: str,
              action: str, target: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = self._method(group, resource, verb, namespace, name, version)()
            document = json.loads(response.data)
        except ApiException as error:
            if error.status == 404 and verb == "get":
                return None
            detail = f"{error.status} {error.reason}" + (f": {_api_message(error.body)}" if error.body else "")
            if error.status in _DENIED_STATUS:
                hint = ("the cluster did not accept the suite's credentials (for EKS: an access entry for the "
                        "suite's IAM principal)" if error.status == 401 else
                        "the suite's RBAC Role (policy/dr-suite-kubernetes-rbac.yaml) grants it")
                denied = Unobservable(action, target, f"denied ({detail})")
                denied.args = (f"{action} denied on {target} in {self.cluster} ({detail}); {hint}",)
                raise denied from None
            raise Unobservable(action, target, detail) from None
        except HTTPError as error:
            raise Unobservable(action, target, f"Kubernetes API of {self.cluster} unreachable "
                                               f"({type(error).__name__})") from None
        except ValueError:
            raise Unobservable(action, target, "the answer is not JSON") from None
        if not isinstance(document, dict):
            raise Unobservable(action, target, "the answer is not a Kubernetes object")
        return document

    def _method(self, group: str, resource: str, verb: str, namespace: str, name: str | None,
                version: str) -> Callable[[], Any]:
        from kubernetes import client

        raw: dict[str, Any] = {"_preload_content": False, "_request_timeout": (5, 30)}
        core, apps = client.CoreV1Api(self._api), client.AppsV1Api(self._api)
        if verb == "list":
            lists = {"services": core.list_namespaced_service,
                     "ingresses": client.NetworkingV1Api(self._api).list_namespaced_ingress}
            return lambda: lists[resource](namespace, **raw)
        assert name is not None
        reads = {
            "deployments": apps.read_namespaced_deployment,
            "configmaps": core.read_namespaced_config_map,
            "secrets": core.read_namespaced_secret,
            "serviceaccounts": core.read_namespaced_service_account,
        }
        if resource in reads:
            return lambda: reads[resource](name, namespace, **raw)
        custom = client.CustomObjectsApi(self._api)
        return lambda: custom.get_namespaced_custom_object(group, version, namespace, resource, name, **raw)


def _api_message(body: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` answer (what RBAC says), else the body's start."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        return str(json.loads(text).get("message", text))[:300]
    except (ValueError, AttributeError):
        return text[:300]


def kubernetes_access(config: Config, aws: AwsAccess) -> KubernetesAccess:
    """The access the config describes: through EKS with AWS credentials, or through a kubeconfig."""
    discover = config.installation.discover
    if discover.eks_cluster is not None:
        return KubernetesAccess.for_eks(aws, config.installation.primary_region, discover.eks_cluster)
    cluster = discover.cluster
    kubeconfig = str(config.resolve(cluster.kubeconfig)) if cluster.kubeconfig else None
    return KubernetesAccess.for_kubeconfig(kubeconfig, cluster.context, aws.calls)
