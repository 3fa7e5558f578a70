"""The EKS variant: the whole suite over an installation discovered from its Deployments (the official Helm
chart and EKS module's objects, served by a loopback fake of the Kubernetes API under the published RBAC
Role), PASS or N/A when DR-ready, FAIL for exactly what a mutation breaks, ERROR when the cluster refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from spacelift_dr.demo import Demo, DemoServer, seed
from spacelift_dr.policy import KUBERNETES_RBAC_FILE, kubernetes_rbac, render_kubernetes
from tests.scenario import ROOT, Hook, Outcome, changed_verdicts, denied, run_checks


def published_role_rules() -> list[dict[str, object]]:
    documents = list(yaml.safe_load_all((ROOT / KUBERNETES_RBAC_FILE).read_text(encoding="utf-8")))
    (role,) = [d for d in documents if d["kind"] == "Role"]
    return list(role["rules"])


def eks_run(server: DemoServer, directory: Path, mutations: tuple[str, ...] = (),
            refused: set[tuple[str, str, str]] | None = None, hooks: list[Hook] | None = None) -> tuple[Demo, Outcome]:
    server.reset()
    demo = seed(server.url, mutations, variant="eks")
    try:
        api = demo.kubernetes_api
        assert api is not None
        api.rules = published_role_rules()  # the fake enforces exactly the published Role
        api.refused.update(refused or set())
        return demo, run_checks(demo, directory, hooks=hooks or [])
    finally:
        demo.close()


@pytest.fixture(scope="module")
def eks_ready(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, Outcome]]:
    yield eks_run(moto_server, tmp_path_factory.mktemp("eks-ready"))
    moto_server.reset()


def test_dr_ready_eks_installation_passes_or_is_not_applicable(eks_ready: tuple[Demo, Outcome]) -> None:
    _, outcome = eks_ready
    statuses = {r["id"]: r["status"] for r in outcome.results}
    assert set(statuses.values()) <= {"PASS", "N/A"}, {k: v for k, v in statuses.items() if v not in {"PASS", "N/A"}}
    for role in ("server", "drain", "scheduler"):
        assert outcome.status("DR-SVC-01", role) == "PASS"
    assert outcome.status("DR-SVC-02") == "PASS"
    assert outcome.status("DR-SVC-03") == "PASS"
    assert outcome.status("DR-BRK-09") == "PASS"
    assert outcome.status("DR-DB-01") == "PASS"  # the database found from the DSN host of the Secret


def test_irsa_roles_must_work_against_the_backup_regions_resources(eks_ready: tuple[Demo, Outcome],
                                                                    moto_server: DemoServer, tmp_path: Path) -> None:
    _, ready = eks_ready
    for role in ("server", "drain", "scheduler"):
        assert ready.status("DR-SVC-05", f"spacelift-{role}") == "PASS"
    assert "iam:SimulatePrincipalPolicy" in {a["action"] for a in ready.result("DR-SVC-05", "drain")["actions"]}
    _, broken = eks_run(moto_server, tmp_path, ("task-role-primary-only:drain",))
    changed = changed_verdicts(ready, broken)
    assert set(changed.values()) == {"FAIL"}
    assert all(key.startswith("DR-SVC-05:") and "drain" in key for key in changed), changed
    assert "kms:Encrypt" in broken.result("DR-SVC-05", "drain")["message"]


def test_evidence_says_where_each_setting_came_from(eks_ready: tuple[Demo, Outcome]) -> None:
    _, outcome = eks_ready
    server = outcome.result("DR-SVC-01", "server")
    assert server["resource"] == "spacelift/spacelift-server"
    evidence = server["evidence"]
    assert evidence["available_replicas"] == 2
    sources = evidence["settings_by_source"]
    assert "OBJECT_STORAGE_BUCKET_STATES" in sources["Secret spacelift/spacelift-shared"]
    assert "DATABASE_URL" in sources["Secret spacelift/spacelift-shared"]
    assert sources["Secret spacelift/spacelift-server"] == ["ADMIN_PASSWORD", "ADMIN_USERNAME", "WEBHOOKS_ENDPOINT"]
    assert sources["env of container server"] == ["ENABLE_INSTRUMENTATION_ENDPOINTS"]
    brk09 = outcome.result("DR-BRK-09")["evidence"]
    assert brk09["found_through"] == "status of the server's Ingress and Services"
    secrets = outcome.result("DR-SVC-04")
    assert secrets["status"] == "N/A"
    assert "spacelift/spacelift-shared: not synced from AWS" in secrets["message"]


def test_suite_reads_only_what_the_published_role_grants(eks_ready: tuple[Demo, Outcome]) -> None:
    demo, outcome = eks_ready
    api = demo.kubernetes_api
    assert api is not None
    used = set(api.requests)
    assert used, "the run read the cluster"
    assert all(api.allowed(*request) for request in used)
    assert {("apps", "deployments", "get"), ("", "secrets", "get"), ("", "serviceaccounts", "get"),
            ("", "services", "list"), ("networking.k8s.io", "ingresses", "list")} <= used
    assert outcome.document["api_calls"]["total"] == outcome.document["api_calls"]["distinct"]


def test_published_rbac_manifest_is_the_generated_one() -> None:
    assert (ROOT / KUBERNETES_RBAC_FILE).read_text(encoding="utf-8") == render_kubernetes(kubernetes_rbac())


BREAKS = {
    "no-scheduler-service": {"DR-SVC-01:spacelift/spacelift-scheduler"},
    "server-unavailable": {"DR-SVC-01:spacelift/spacelift-server"},
    "efs-volume:server": {"DR-SVC-02:spacelift-ab12c/spacelift"},
    "no-registry-replication": {"DR-SVC-03:spacelift-ab12c/spacelift"},
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, eks_ready: tuple[Demo, Outcome],
                                               moto_server: DemoServer, tmp_path: Path) -> None:
    _, broken = eks_run(moto_server, tmp_path, (mutation,))
    changed = changed_verdicts(eks_ready[1], broken)
    # A Deployment that is gone has no role to compare either: DR-SVC-05 is N/A for it, naming DR-SVC-01.
    also = {"no-scheduler-service": {"DR-SVC-05:spacelift-ab12c/spacelift/spacelift-scheduler": "N/A"}}
    assert changed == {**dict.fromkeys(BREAKS[mutation], "FAIL"), **also.get(mutation, {})}
    messages = {r["id"]: r["message"] for r in broken.results if r["id"] in BREAKS[mutation]}
    expected = {
        "no-scheduler-service": "Deployment spacelift/spacelift-scheduler not found",
        "server-unavailable": "has 0 available of 2 replicas, expected at least one available",
        "efs-volume:server": "server mounts PersistentVolumeClaim spacelift-data (volume data at "
                             "server:/var/lib/spacelift), expected no persistent volume",
        "no-registry-replication": "is not in the repository spacelift-backend-ab12c of eu-central-1",
    }[mutation]
    assert any(expected in message for message in messages.values()), messages


def test_cluster_that_refuses_secrets_makes_every_dependent_check_an_error(moto_server: DemoServer,
                                                                          tmp_path: Path) -> None:
    _, outcome = eks_run(moto_server, tmp_path, refused={("", "secrets", "get")})
    result = outcome.result("DR-SVC-01", "server")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("kubernetes:get secrets denied on spacelift/spacelift-shared in EKS "
                                        "cluster spacelift-ab12c (403 Forbidden")
    assert outcome.status("DR-KMS-01") == "ERROR"
    assert "PASS" not in {r["status"] for r in outcome.results if r["requirement"].startswith("DR-SVC")}



def test_eks_run_makes_only_aws_reads_the_iam_policy_allows(eks_ready: tuple[Demo, Outcome]) -> None:
    # moto 5.2 answers every signed EKS request under IAM enforcement with SignatureDoesNotMatch (as it
    # does Route 53's), so the policy is shown to cover the EKS run by the reads it made, and denial of
    # eks:DescribeCluster with an API-shaped answer below.
    from tests.test_least_privilege import ACTIONS

    made = set(eks_ready[1].document["api_calls"]["by_action"])
    assert "eks:DescribeCluster" in made
    assert {a for a in made if not a.startswith("kubernetes:")} <= set(ACTIONS)


def test_eks_run_without_describe_cluster_is_an_error_naming_it(moto_server: DemoServer, tmp_path: Path) -> None:
    _, outcome = eks_run(moto_server, tmp_path, hooks=denied("DescribeCluster", "eks", "AccessDeniedException"))
    for result in outcome.results:
        if result["requirement"].startswith("DR-SVC"):
            assert result["status"] == "ERROR"
            assert result["message"].startswith("eks:DescribeCluster denied on eks cluster spacelift-ab12c")


@pytest.mark.parametrize("store", ["replicated", "unreplicated", "cluster-store"])
def test_secret_synced_by_external_secrets_must_be_replicated(store: str, moto_server: DemoServer,
                                                              tmp_path: Path) -> None:
    """SVC-04 on EKS: DATABASE_URL synced by the External Secrets operator from a Secrets Manager secret
    (named without its ARN) is judged on that secret's replica in the backup region."""
    from spacelift_dr.demo.kubernetes import secret

    moto_server.reset()
    demo = seed(moto_server.url, variant="eks")
    try:
        api = demo.kubernetes_api
        assert api is not None
        sm = demo.context.client("secretsmanager")
        arn = sm.create_secret(Name="spacelift/eso-db", SecretString='{"DATABASE_URL": "postgres://x"}')["ARN"]
        if store == "replicated":
            sm.replicate_secret_to_regions(SecretId=arn, AddReplicaRegions=[{"Region": "eu-central-1"}])
        api.add("", "secrets", secret("spacelift", "spacelift-db", {"DATABASE_URL": "postgres://x"},
                                      ownerReferences=[{"apiVersion": "external-secrets.io/v1beta1",
                                                        "kind": "ExternalSecret", "name": "spacelift-db"}]))
        api.add("external-secrets.io", "externalsecrets", {
            "apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
            "metadata": {"name": "spacelift-db", "namespace": "spacelift"},
            "spec": {"secretStoreRef": {"name": "aws",
                                        "kind": "ClusterSecretStore" if store == "cluster-store" else "SecretStore"},
                     "data": [{"secretKey": "DATABASE_URL", "remoteRef": {"key": "spacelift/eso-db"}}]}})
        api.add("external-secrets.io", "secretstores", {
            "apiVersion": "external-secrets.io/v1beta1", "kind": "SecretStore",
            "metadata": {"name": "aws", "namespace": "spacelift"},
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}}})
        server = api.objects[("apps", "deployments", "spacelift", "spacelift-server")]
        server["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "spacelift-db", "key": "DATABASE_URL"}}})
        outcome = run_checks(demo, tmp_path, overrides={"database": {"cluster_identifier": "spacelift-ab12c"}})
    finally:
        demo.close()
        moto_server.reset()
    result = outcome.result("DR-SVC-04")
    if store == "cluster-store":  # which AWS secret cannot be read with the namespaced Role
        assert result["status"] == "ERROR"
        assert "ClusterSecretStore aws" in result["message"]
        assert "give remoteRef.key as the secret's ARN" in result["message"]
        return
    assert result["resource"] == "spacelift/eso-db"
    assert result["evidence"]["referenced_by"] == ["server:DATABASE_URL"]
    if store == "replicated":
        assert result["status"] == "PASS", result["message"]
    else:
        assert result["status"] == "FAIL"
        assert result["message"] == "spacelift/eso-db is replicated to no region, expected a replica in eu-central-1"


def test_demo_variant_runs_every_check_and_stops_its_fake_api(moto_server: DemoServer, tmp_path: Path) -> None:
    """``pytest --dr-demo --dr-demo-variant eks``: every check runs on EKS discovery, the fake API listens
    on loopback only, and the run stops it. (moto keeps one state per process, shared by its servers: the
    session's server is emptied before and after the demo's own.)"""
    import json
    import socket

    from fixtures.session import DEMO

    seen: dict[str, object] = {}

    class Spy:
        def pytest_sessionfinish(self, session: pytest.Session) -> None:
            api = session.config.stash[DEMO].kubernetes_api
            assert api is not None
            assert api._server is not None
            seen["address"] = api._server.server_address
            seen["requests"] = list(api.requests)

    reports = tmp_path / "reports"
    moto_server.reset()
    try:
        code = pytest.main([str(ROOT / "checks"), "--dr-demo", "--dr-demo-variant", "eks",
                            f"--dr-reports={reports}", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                            "--rootdir", str(ROOT), "-c", str(ROOT / "pytest.ini")], plugins=[Spy()])
    finally:
        moto_server.reset()
    assert code == 1  # the demo's gaps are FAILs
    host, port = seen["address"]
    assert host == "127.0.0.1"
    assert seen["requests"]
    with pytest.raises(OSError), socket.create_connection((host, port), timeout=2):
        pass
    document = json.loads((reports / "dr-results.json").read_text(encoding="utf-8"))
    assert document["summary"]["ERROR"] == 0
    assert any("EKS demo" in note for note in document["notes"])
    assert {r["status"] for r in document["results"] if r["requirement"] == "DR-SVC-01"} == {"PASS"}


def test_no_scheduler_deployment_declared_is_not_applicable(eks_ready: tuple[Demo, Outcome],
                                                            moto_server: DemoServer, tmp_path: Path) -> None:
    """From Spacelift v6.4.0 the chart deploys no scheduler: ``deployments.scheduler: null`` says so."""
    moto_server.reset()
    demo = seed(moto_server.url, ["no-scheduler-service"], variant="eks")
    try:
        installation = demo.config().model_dump(mode="json", exclude_defaults=True)["installation"]
        installation["discover"]["kubernetes"] = {"deployments": {"scheduler": None}}
        outcome = run_checks(demo, tmp_path, overrides={"installation": installation})
    finally:
        demo.close()
        moto_server.reset()
    def scheduler(key: str) -> bool:
        return key.startswith(("DR-SVC-01:", "DR-SVC-05:")) and "scheduler" in key

    others = {k: v for k, v in outcome.verdicts.items() if not scheduler(k)}
    assert others == {k: v for k, v in eks_ready[1].verdicts.items() if not scheduler(k)}
    assert outcome.status("DR-SVC-05", "scheduler") == "N/A"
    result = outcome.result("DR-SVC-01", "spacelift/scheduler")
    assert result["status"] == "N/A"
    assert "discover.kubernetes.deployments.scheduler is null" in result["message"]
