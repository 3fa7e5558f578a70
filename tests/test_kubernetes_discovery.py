"""EKS discovery: the token EKS accepts, the settings read from realistic Deployments, ConfigMaps and
Secrets through the official client against a loopback fake API, and what the cluster's refusals become."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from spacelift_dr.aws import AwsAccess, aws_session
from spacelift_dr.config import parse_config
from spacelift_dr.demo.kubernetes import FakeKubernetesApi, HelmRelease, secret, token_problem
from spacelift_dr.errors import ConfigError, ReadOnlyViolation, Unobservable
from spacelift_dr.kubernetes_api import KubernetesAccess, eks_token
from spacelift_dr.kubernetes_discovery import DeploymentReader, discover_deployments, dsn_without_password

DSN_PASSWORD = "k8s-Db-pa55word-never-kept"
ADMIN_PASSWORD = "k8s-Adm1n-pa55word-never-kept"
LICENSE = "eyJhbGciOi-demo-license-never-kept"
SERVER_ROLE = "arn:aws:iam::123456789012:role/spacelift-server"
ALB = "k8s-spacelift-serverv4-0123456789-987654321.eu-west-1.elb.amazonaws.com"
DSN = f"postgres://spacelift:{DSN_PASSWORD}@spacelift.cluster-abc.eu-west-1.rds.amazonaws.com:5432/spacelift" \
      "?statement_cache_capacity=0&password=again"


def _access(api: FakeKubernetesApi) -> KubernetesAccess:
    from kubernetes import client

    aws = AwsAccess(aws_session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"))
    configuration = client.Configuration(host=api.url, ca_cert_data=api.ca_pem.decode())
    configuration.api_key["authorization"] = eks_token(aws, "eu-west-1", api.cluster)
    configuration.api_key_prefix["authorization"] = "Bearer"
    return KubernetesAccess(client.ApiClient(configuration), f"EKS cluster {api.cluster}", aws.calls)


def release(**changes: Any) -> HelmRelease:
    values: dict[str, Any] = {
        "namespace": "spacelift",
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/spacelift-backend:v3.0.0",
        "shared": {"OBJECT_STORAGE_BUCKET_STATES": "spacelift-states-k8s", "AWS_REGION": "eu-west-1",
                   "ENCRYPTION_KMS_ENCRYPTION_KEY_ID": "mrk-0123", "DATABASE_URL": DSN, "LICENSE_TOKEN": LICENSE,
                   "MESSAGE_QUEUE_TYPE": "postgres"},
        "per_service": {"server": {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": ADMIN_PASSWORD},
                        "drain": {"LAUNCHER_IMAGE_TAG": "v3.0.0"}},
        "role_arns": {"server": SERVER_ROLE, "drain": SERVER_ROLE.replace("server", "drain"),
                      "scheduler": SERVER_ROLE.replace("server", "scheduler")},
        "server_domain": "spacelift.example.com",
        "load_balancer_hostname": ALB,
    }
    values.update(changes)
    return HelmRelease(**values)


@pytest.fixture
def fake_api() -> Iterator[FakeKubernetesApi]:
    api = FakeKubernetesApi(cluster="spacelift-eks").start()
    api.add_all(release().objects())
    try:
        yield api
    finally:
        api.stop()


def _config(**database: Any) -> Any:
    return parse_config({"installation": {"name": "k8s", "primary_region": "eu-west-1",
                                          "backup_region": "eu-central-1",
                                          "discover": {"eks_cluster": "spacelift-eks"}},
                         "database": database}, "k8s.yaml")


# -- the token --------------------------------------------------------------------------------------


def test_token_is_the_presigned_get_caller_identity_url_eks_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws = AwsAccess(aws_session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"))
    token = eks_token(aws, "eu-west-1", "spacelift-eks")
    assert token.startswith("k8s-aws-v1.")
    assert "=" not in token
    assert set(token.removeprefix("k8s-aws-v1.")) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                         "0123456789-_")
    body = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert "/eu-west-1/sts/aws4_request" in \
        query["X-Amz-Credential"]
    # The signature is SigV4 over the cluster header: re-signing the same request gives the same one.
    unsigned = {k: v for k, v in query.items() if k not in {"X-Amz-Signature"}}
    request = AWSRequest(method="GET", url=f"https://{parts.netloc}/",
                         params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                         headers={"x-k8s-aws-id": "spacelift-eks"})
    request.context["timestamp"] = unsigned["X-Amz-Date"]
    SigV4QueryAuth(Credentials("AKIDEXAMPLE", "secret"), "sts", "eu-west-1", expires=60).add_auth(request)
    resigned = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert resigned["X-Amz-Signature"] == query["X-Amz-Signature"]
    assert token_problem(f"Bearer {token}", "spacelift-eks") is None


def test_presigning_client_sends_nothing() -> None:
    aws = AwsAccess(aws_session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"))
    with pytest.raises(ReadOnlyViolation):
        aws.presigning_client("sts", "eu-west-1").get_caller_identity()
    assert aws.calls.total == 0


@pytest.mark.parametrize(("header", "problem"), [
    (None, "no bearer token"),
    ("Bearer abc", "does not start with k8s-aws-v1."),
    ("Bearer k8s-aws-v1." + base64.urlsafe_b64encode(b"https://sts.amazonaws.com/?Action=ListUsers").decode()
     .rstrip("="), "not a presigned sts:GetCallerIdentity URL"),
])
def test_fake_api_refuses_tokens_eks_would_refuse(header: str | None, problem: str) -> None:
    assert problem in (token_problem(header, "spacelift-eks") or "")


# -- discovery --------------------------------------------------------------------------------------


def test_discovery_reads_the_helm_chart_deployments(fake_api: FakeKubernetesApi) -> None:
    services = discover_deployments(_config(), _access(fake_api))
    assert sorted(services) == ["drain", "scheduler", "server"]
    server = services["server"]
    settings = server.settings()
    assert settings["OBJECT_STORAGE_BUCKET_STATES"].value == "spacelift-states-k8s"
    assert settings["OBJECT_STORAGE_BUCKET_STATES"].source == "Secret spacelift/spacelift-shared"
    assert settings["ADMIN_USERNAME"].source == "Secret spacelift/spacelift-server"
    assert settings["ENABLE_INSTRUMENTATION_ENDPOINTS"].source == "env of container server"
    # Secret settings: present, with their source, never their value.
    for name in ("ADMIN_PASSWORD", "LICENSE_TOKEN"):
        assert settings[name].value is None
        owner = "server" if "ADMIN" in name else "shared"
        assert settings[name].secret_ref == f"kubernetes:secret/spacelift/spacelift-{owner}#{name}"
    # The DSN's host is kept (no cluster_identifier given), its password and query dropped on read.
    assert settings["DATABASE_URL"].value == \
        "postgres://spacelift@spacelift.cluster-abc.eu-west-1.rds.amazonaws.com:5432/spacelift"
    assert "ADMIN_USERNAME" not in services["scheduler"].settings()  # the scheduler loads only the shared Secret
    assert server.task_role_arn == SERVER_ROLE
    assert server.execution_role_arn is None
    assert server.workload is not None
    assert server.workload.available_replicas == 2
    assert server.workload.load_balancer_hostnames == (ALB,)
    everything = repr(services)
    assert DSN_PASSWORD not in everything
    assert ADMIN_PASSWORD not in everything
    assert LICENSE not in everything


def test_dsn_is_not_kept_when_the_cluster_is_named(fake_api: FakeKubernetesApi) -> None:
    services = discover_deployments(_config(cluster_identifier="spacelift"), _access(fake_api))
    setting = services["server"].settings()["DATABASE_URL"]
    assert setting.value is None
    assert setting.secret_ref is not None


def test_env_wins_over_env_from_and_config_maps_are_read(fake_api: FakeKubernetesApi) -> None:
    fake_api.add("", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "extra", "namespace": "spacelift"},
                                    "data": {"AWS_REGION": "us-east-1", "MQTT_BROKER_TYPE": "builtin"}})
    fake_api.add("", "secrets", secret("spacelift", "tokens", {"API_TOKEN": "tok-never-kept-123", "REGION": "x"}))
    reader = DeploymentReader(_access(fake_api), "spacelift", keep_database_host=True)
    found = reader.container_settings({
        "name": "server",
        "envFrom": [{"secretRef": {"name": "spacelift-shared"}}, {"configMapRef": {"name": "extra"}},
                    {"secretRef": {"name": "tokens"}, "prefix": "X_"}],
        "env": [{"name": "MESSAGE_QUEUE_TYPE", "value": "sqs"},
                {"name": "SERVER_DOMAIN", "valueFrom": {"configMapKeyRef": {"name": "extra", "key": "AWS_REGION"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    }).container("server", "image", ())
    assert found.environment["AWS_REGION"] == "us-east-1"  # the later envFrom source wins
    assert found.sources["AWS_REGION"] == "ConfigMap spacelift/extra"
    assert found.environment["MESSAGE_QUEUE_TYPE"] == "sqs"  # env wins over envFrom
    assert found.environment["SERVER_DOMAIN"] == "us-east-1"
    assert found.environment["X_REGION"] == "x"
    assert "X_API_TOKEN" in found.secrets
    assert "tok-never-kept-123" not in repr(found)
    assert "POD_IP" not in found.environment


def test_missing_deployment_is_not_discovered(fake_api: FakeKubernetesApi) -> None:
    del fake_api.objects[("apps", "deployments", "spacelift", "spacelift-scheduler")]
    assert sorted(discover_deployments(_config(), _access(fake_api))) == ["drain", "server"]


def test_forbidden_read_is_an_error_naming_verb_and_resource(fake_api: FakeKubernetesApi) -> None:
    fake_api.refused.add(("", "secrets", "get"))
    with pytest.raises(Unobservable) as raised:
        discover_deployments(_config(), _access(fake_api))
    message = str(raised.value)
    assert message.startswith("kubernetes:get secrets denied on spacelift/spacelift-shared in EKS cluster "
                              "spacelift-eks (403 Forbidden")
    assert 'cannot get resource "secrets"' in message


def test_unauthenticated_read_is_an_error_naming_the_access_entry(fake_api: FakeKubernetesApi) -> None:
    from kubernetes import client

    configuration = client.Configuration(host=fake_api.url, ca_cert_data=fake_api.ca_pem.decode())
    access = KubernetesAccess(client.ApiClient(configuration), "EKS cluster spacelift-eks",
                              AwsAccess(aws_session(aws_access_key_id="a", aws_secret_access_key="b")).calls)
    denied = r"kubernetes:get deployments.apps denied .*\(401 Unauthorized.*access entry"
    with pytest.raises(Unobservable, match=denied):
        discover_deployments(_config(), access)


def test_unreachable_cluster_is_an_error() -> None:
    api = FakeKubernetesApi(cluster="spacelift-eks").start()
    access = _access(api)
    api.stop()
    with pytest.raises(Unobservable, match="unreachable"):
        access.get("apps", "deployments", "spacelift", "spacelift-server")


def test_reads_outside_the_allowlist_are_refused_before_sending(fake_api: FakeKubernetesApi) -> None:
    access = _access(fake_api)
    with pytest.raises(ReadOnlyViolation):
        access.get("", "pods", "spacelift", "anything")
    with pytest.raises(ReadOnlyViolation):
        access.list("", "secrets", "spacelift")
    assert fake_api.requests == []


def test_each_read_is_made_once(fake_api: FakeKubernetesApi) -> None:
    aws_calls = AwsAccess(aws_session(aws_access_key_id="a", aws_secret_access_key="b")).calls
    access = KubernetesAccess(_access(fake_api)._api, "EKS cluster spacelift-eks", aws_calls)
    discover_deployments(_config(), access)
    summary = aws_calls.summary()
    assert summary["total"] == summary["distinct"] == len(fake_api.requests)


@pytest.mark.parametrize(("dsn", "kept"), [
    ("postgres://u:p@h.example:5432/db?sslmode=require", "postgres://u@h.example:5432/db"),
    ("postgresql://h.example/db", "postgresql://h.example/db"),
    ("not a dsn", None),
])
def test_dsn_without_password(dsn: str, kept: str | None) -> None:
    assert dsn_without_password(dsn) == kept


# -- config -----------------------------------------------------------------------------------------


def _installation(discover: dict[str, Any]) -> dict[str, Any]:
    return {"installation": {"name": "k8s", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
                             "discover": discover}}


def test_eks_config_defaults_to_the_modules_names() -> None:
    config = parse_config(_installation({"eks_cluster": "spacelift-eks"}), "k8s.yaml")
    cluster = config.installation.discover.cluster
    assert cluster.namespace == "spacelift"
    assert cluster.deployments.model_dump() == {"server": "spacelift-server", "drain": "spacelift-drain",
                                                "scheduler": "spacelift-scheduler"}


@pytest.mark.parametrize(("discover", "key"), [
    ({"ecs_cluster": "x", "eks_cluster": "y"}, "installation.discover.eks_cluster"),
    ({"eks_cluster": "y", "kubernetes": {"kubeconfig": "k"}}, "installation.discover.kubernetes.kubeconfig"),
    ({"kubernetes": {"namespce": "x"}}, "installation.discover.kubernetes.namespce"),
    ({"kubernetes": {"deployments": {"worker": "x"}}}, "installation.discover.kubernetes.deployments.worker"),
    ({"kubernetes": {"namespace": "Not_A_Name"}}, "installation.discover.kubernetes.namespace"),
])
def test_bad_kubernetes_config_names_the_key(discover: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(_installation(discover), "k8s.yaml")
    assert str(raised.value).startswith(f"k8s.yaml: {key}: expected ")


# -- Secrets synced from AWS --------------------------------------------------------------------------

DB_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spacelift/db-AbCdEf"


def _owned_secret(name: str, data: dict[str, str], owner: str) -> dict[str, Any]:
    return secret("spacelift", name, data, ownerReferences=[{
        "apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "name": owner,
        "uid": "6b1c", "controller": True, "blockOwnerDeletion": True}])


def test_external_secrets_name_the_aws_secrets_they_sync(fake_api: FakeKubernetesApi) -> None:
    fake_api.add("", "secrets", _owned_secret("db", {"DATABASE_URL": DSN, "REGION_BUCKET": "b-1"}, "db"))
    fake_api.add("external-secrets.io", "externalsecrets", {
        "apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "spacelift"},
        "spec": {"secretStoreRef": {"name": "aws", "kind": "SecretStore"}, "target": {"name": "db"},
                 "data": [{"secretKey": "DATABASE_URL", "remoteRef": {"key": DB_ARN, "property": "DATABASE_URL"}},
                          {"secretKey": "REGION_BUCKET", "remoteRef": {"key": "/spacelift/bucket"}}]}})
    fake_api.add("external-secrets.io", "secretstores", {
        "apiVersion": "external-secrets.io/v1beta1", "kind": "SecretStore",
        "metadata": {"name": "aws", "namespace": "spacelift"},
        "spec": {"provider": {"aws": {"service": "ParameterStore", "region": "eu-west-2"}}}})
    reader = DeploymentReader(_access(fake_api), "spacelift", keep_database_host=True, region="eu-west-1",
                              account=lambda: "123456789012")
    found = reader.container_settings({"name": "server", "envFrom": [{"secretRef": {"name": "db"}}]}) \
        .container("server", "image", ())
    assert found.secrets["DATABASE_URL"] == DB_ARN
    assert found.secret_values["DATABASE_URL"].startswith("postgres://spacelift@")
    # A non-secret setting from a synced Secret: its value is known and its AWS origin is a reference.
    assert found.secrets["REGION_BUCKET"] == "arn:aws:ssm:eu-west-2:123456789012:parameter/spacelift/bucket"
    assert found.secret_values["REGION_BUCKET"] == "b-1"
    assert found.sources["DATABASE_URL"] == "Secret spacelift/db (synced from Secrets Manager)"


def test_secrets_store_csi_synced_secrets_name_their_aws_objects(fake_api: FakeKubernetesApi) -> None:
    fake_api.add("", "secrets", secret("spacelift", "from-csi", {"LICENSE_TOKEN": LICENSE},
                                       labels={"secrets-store.csi.k8s.io/managed": "true"}))
    fake_api.add("secrets-store.csi.x-k8s.io", "secretproviderclasses", {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
        "metadata": {"name": "spacelift", "namespace": "spacelift"},
        "spec": {"provider": "aws",
                 "parameters": {"objects": "- objectName: spacelift/license\n  objectType: secretsmanager\n"
                                           "  objectAlias: license\n"},
                 "secretObjects": [{"secretName": "from-csi", "type": "Opaque",
                                    "data": [{"objectName": "license", "key": "LICENSE_TOKEN"}]}]}})
    reader = DeploymentReader(_access(fake_api), "spacelift", keep_database_host=True, region="eu-west-1",
                              account=lambda: "123456789012")
    reader.csi_volumes({"volumes": [{"name": "secrets", "csi": {
        "driver": "secrets-store.csi.k8s.io", "readOnly": True,
        "volumeAttributes": {"secretProviderClass": "spacelift"}}}]})
    found = reader.container_settings({"name": "server", "env": [
        {"name": "LICENSE_TOKEN", "valueFrom": {"secretKeyRef": {"name": "from-csi", "key": "LICENSE_TOKEN"}}}]}) \
        .container("server", "image", ())
    assert found.secrets["LICENSE_TOKEN"] == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spacelift/license"
    assert LICENSE not in repr(found)


def test_a_cluster_reached_through_a_kubeconfig(fake_api: FakeKubernetesApi, tmp_path: Any) -> None:
    """discover.kubernetes.kubeconfig/context: the standard kubeconfig, its path relative to the config."""
    from spacelift_dr.kubernetes_api import kubernetes_access

    aws = AwsAccess(aws_session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"))
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "eks", "cluster": {"server": fake_api.url, "certificate-authority-data":
                                                 base64.b64encode(fake_api.ca_pem).decode()}}],
        "users": [{"name": "auditor", "user": {"token": eks_token(aws, "eu-west-1", "spacelift-eks")}}],
        "contexts": [{"name": "dr", "context": {"cluster": "eks", "user": "auditor", "namespace": "spacelift"}},
                     {"name": "other", "context": {"cluster": "eks", "user": "nobody"}}],
    }
    (tmp_path / "kube.yaml").write_text(yaml.safe_dump(kubeconfig), encoding="utf-8")
    config = parse_config({"installation": {
        "name": "k8s", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
        "discover": {"kubernetes": {"kubeconfig": "kube.yaml", "context": "dr"}}}}, str(tmp_path / "dr.yaml"))
    services = discover_deployments(config, kubernetes_access(config, aws))
    assert sorted(services) == ["drain", "scheduler", "server"]
    missing = parse_config({"installation": {
        "name": "k8s", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
        "discover": {"kubernetes": {"kubeconfig": "kube.yaml", "context": "absent"}}}}, str(tmp_path / "dr.yaml"))
    with pytest.raises(Unobservable, match=r"kubernetes:kubeconfig failed on .*kube.yaml"):
        kubernetes_access(missing, aws)


def test_rsa_key_in_a_kubernetes_secret_is_an_error_never_read() -> None:
    from spacelift_dr.config import EncryptionSection
    from spacelift_dr.facts.rsa import RsaKeys
    from spacelift_dr.installation import Installation, Setting
    from spacelift_dr.redaction import Redactor

    installation = Installation("k8s", "eu-west-1", "eu-central-1", None, ("states",))
    keys = RsaKeys(AwsAccess(aws_session(aws_access_key_id="a", aws_secret_access_key="b")), installation,
                   EncryptionSection(allow_reading_rsa_secret=True), [], Redactor())
    setting = Setting("ENCRYPTION_RSA_PRIVATE_KEY", "server",
                      secret_ref="kubernetes:secret/spacelift/spacelift-shared#ENCRYPTION_RSA_PRIVATE_KEY")
    with pytest.raises(Unobservable) as raised:
        keys.inspect(setting)
    assert str(raised.value).startswith("kubernetes:get secrets failed on spacelift/spacelift-shared: "
                                        "ENCRYPTION_RSA_PRIVATE_KEY comes from the Kubernetes Secret")
