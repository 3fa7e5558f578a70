"""A loopback fake of the Kubernetes API for the EKS demo and the tests, reached through the real client.

It serves objects as the API does (``GET`` of one object, ``list`` of a collection), over TLS with a CA
of its own (the demo hands it out as the cluster's ``certificateAuthority``), and it behaves like EKS
with the suite's RBAC in place: a request without a well-formed EKS token is 401, and any verb or
resource the published Role does not grant is 403 with the API's own wording. Every request is
recorded, so tests can show which verbs and resources the suite used.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import shutil
import ssl
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..kubernetes_api import CLUSTER_ID_HEADER, TOKEN_PREFIX
from ..policy import kubernetes_role_rules

# /api/v1/namespaces/ns/secrets/name, /apis/apps/v1/namespaces/ns/deployments/name, collections without name
_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                   r"/namespaces/(?P<namespace>[^/]+)/(?P<resource>[^/]+)(?:/(?P<name>[^/]+))?$")


def _tls_material(directory: Path) -> tuple[Path, Path, bytes]:
    """A self-signed CA certificate for 127.0.0.1 (it is its own trust anchor) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "apiserver.crt", directory / "apiserver.key"
    cert_file.write_bytes(pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, pem


def token_problem(authorization: str | None, cluster: str) -> str | None:
    """Why a bearer token is not one EKS would accept for ``cluster`` (None when it is well-formed):
    ``k8s-aws-v1.`` + unpadded base64url of a presigned sts:GetCallerIdentity URL whose signed headers
    include ``x-k8s-aws-id``. (The fake cannot verify the signature: that is STS's part.)"""
    if not authorization or not authorization.startswith("Bearer "):
        return "no bearer token"
    token = authorization.removeprefix("Bearer ")
    if not token.startswith(TOKEN_PREFIX):
        return f"the token does not start with {TOKEN_PREFIX}"
    body = token.removeprefix(TOKEN_PREFIX)
    if "=" in body:
        return "the token is padded"
    try:
        url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return "the token is not base64url"
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if parts.scheme not in {"https", "http"} or query.get("Action") != "GetCallerIdentity":
        return "the token is not a presigned sts:GetCallerIdentity URL"
    if query.get("Version") != "2011-06-15" or not query.get("X-Amz-Signature"):
        return "the presigned URL is not signed for STS 2011-06-15"
    if CLUSTER_ID_HEADER not in query.get("X-Amz-SignedHeaders", "").split(";"):
        return f"the {CLUSTER_ID_HEADER} header is not signed"
    if not query.get("X-Amz-Expires", "").isdigit() or int(query["X-Amz-Expires"]) > 900:
        return "X-Amz-Expires is missing or longer than EKS accepts"
    return None


@dataclass
class FakeKubernetesApi:
    """Objects by (group, resource, namespace, name); ``start()`` serves them on 127.0.0.1."""

    cluster: str
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=kubernetes_role_rules)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (group, resource, verb)
    refused: set[tuple[str, str, str]] = field(default_factory=set)  # answer 403 although the Role grants it
    url: str = ""
    ca_pem: bytes = b""
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def add(self, group: str, resource: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[(group, resource, meta["namespace"], meta["name"])] = obj

    def add_all(self, objects: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        for group, resource, obj in objects:
            self.add(group, resource, obj)

    def allowed(self, group: str, resource: str, verb: str) -> bool:
        return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in self.rules)

    def start(self) -> FakeKubernetesApi:
        directory = Path(tempfile.mkdtemp(prefix="dr-fake-kube-"))
        cert_file, key_file, self.ca_pem = _tls_material(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        shutil.rmtree(directory, ignore_errors=True)  # the context holds them now
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                problem = token_problem(self.headers.get("Authorization"), api.cluster)
                if problem is not None:
                    self._answer(401, _status(401, "Unauthorized", f"Unauthorized ({problem})"))
                    return
                match = _PATH.match(urlsplit(self.path).path)
                if match is None:
                    self._answer(404, _status(404, "NotFound", "the server could not find the requested resource"))
                    return
                group = match["group"] or ""
                resource, namespace, name = match["resource"], match["namespace"], match["name"]
                verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
                        "DELETE": "delete"}[method]
                api.requests.append((group, resource, verb))
                if not api.allowed(group, resource, verb) or (group, resource, verb) in api.refused:
                    target = f'{resource} "{name}" is' if name else f'{resource} is'
                    self._answer(403, _status(403, "Forbidden", (
                        f'{target} forbidden: User "spacelift-dr-suite" cannot {verb} resource "{resource}" in API '
                        f'group "{group}" in the namespace "{namespace}"')))
                    return
                if name:
                    found = api.objects.get((group, resource, namespace, name))
                    if found is None:
                        self._answer(404, _status(404, "NotFound", f'{resource} "{name}" not found'))
                    else:
                        self._answer(200, found)
                    return
                items = [o for (g, r, ns, _), o in sorted(api.objects.items()) if (g, r, ns) == (group, resource,
                                                                                             namespace)]
                self._answer(200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="dr-fake-kubernetes", daemon=True)
        self._thread.start()
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


# -- what the EKS module and the Helm chart create --------------------------------------------------

COMMANDS = {"server": ["spacelift", "backend", "server"], "drain": ["spacelift", "backend", "drain-local"],
            "scheduler": ["spacelift", "scheduler"]}


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(namespace: str, name: str, data: dict[str, str], **metadata: Any) -> dict[str, Any]:
    """A Secret as the API returns it: ``data`` base64-encoded (``stringData`` is write-only)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, **metadata},
            "data": {k: _b64(v) for k, v in sorted(data.items())}}


@dataclass
class HelmRelease:
    """The objects of ``helm install spacelift spacelift-self-hosted`` with the EKS module's values and
    Secrets: three Deployments (image, inline env, envFrom the module's Secrets), a service account per
    service with its IRSA role, the server's Service and the ``server-v4`` Ingress with its ALB."""

    namespace: str
    image: str
    shared: dict[str, str]
    per_service: dict[str, dict[str, str]]  # the spacelift-server / spacelift-drain Secrets
    role_arns: dict[str, str]
    server_domain: str
    load_balancer_hostname: str
    volumes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    inline: dict[str, dict[str, str]] = field(default_factory=dict)  # env entries beside the chart's own

    def _labels(self, role: str) -> dict[str, str]:
        name = "spacelift-self-hosted" if role == "server" else f"spacelift-self-hosted-{role}"
        instance = "spacelift" if role == "server" else f"spacelift-{role}"
        return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}

    def _deployment(self, role: str) -> dict[str, Any]:
        env_from = [{"secretRef": {"name": "spacelift-shared"}}]
        if role in self.per_service:
            env_from.append({"secretRef": {"name": f"spacelift-{role}"}})
        container: dict[str, Any] = {
            "name": role, "image": self.image, "imagePullPolicy": "IfNotPresent", "command": COMMANDS[role],
            "env": [{"name": "ENABLE_INSTRUMENTATION_ENDPOINTS", "value": "true"},
                    *({"name": k, "value": v} for k, v in sorted(self.inline.get(role, {}).items()))],
            "envFrom": env_from,
            "ports": [{"name": "instrumentation", "containerPort": 8080, "protocol": "TCP"}],
        }
        if self.mounts.get(role):
            container["volumeMounts"] = self.mounts[role]
        pod: dict[str, Any] = {"serviceAccountName": f"spacelift-{role}", "containers": [container]}
        if self.volumes.get(role):
            pod["volumes"] = self.volumes[role]
        replicas = 2 if role != "scheduler" else 1
        available = self.available.get(role, replicas)
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"spacelift-{role}", "namespace": self.namespace,
                         "labels": {**self._labels(role), "app.kubernetes.io/managed-by": "Helm"},
                         "annotations": {"meta.helm.sh/release-name": "spacelift",
                                         "meta.helm.sh/release-namespace": self.namespace}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": self._labels(role)},
                     "template": {"metadata": {"labels": self._labels(role)}, "spec": pod}},
            "status": {"replicas": replicas, "readyReplicas": available, "availableReplicas": available,
                       "updatedReplicas": replicas},
        }

    def objects(self) -> list[tuple[str, str, dict[str, Any]]]:
        found: list[tuple[str, str, dict[str, Any]]] = [("", "secrets", secret(self.namespace, "spacelift-shared",
                                                                             self.shared))]
        for role, data in self.per_service.items():
            found.append(("", "secrets", secret(self.namespace, f"spacelift-{role}", data)))
        for role in ("server", "drain", "scheduler"):
            found.append(("", "serviceaccounts", {
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": f"spacelift-{role}", "namespace": self.namespace,
                             "annotations": {"eks.amazonaws.com/role-arn": self.role_arns[role]}}}))
            if role not in self.absent:
                found.append(("apps", "deployments", self._deployment(role)))
        found.append(("", "services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "spacelift-server", "namespace": self.namespace},
            "spec": {"type": "ClusterIP", "selector": self._labels("server"),
                     "ports": [{"name": "server", "port": 1983, "targetPort": "server", "protocol": "TCP"}]}}))
        found.append(("networking.k8s.io", "ingresses", {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "server-v4", "namespace": self.namespace,
                         "annotations": {"alb.ingress.kubernetes.io/healthcheck-path": "/readiness"}},
            "spec": {"ingressClassName": "spacelift",
                     "tls": [{"hosts": [self.server_domain], "secretName": "cert"}],
                     "rules": [{"host": self.server_domain, "http": {"paths": [{
                         "path": "/", "pathType": "Prefix",
                         "backend": {"service": {"name": "spacelift-server", "port": {"name": "server"}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"hostname": self.load_balancer_hostname}]}}}))
        return found
