"""Replacement services (DR-SVC-02 … 04) against a seeded moto server: PASS when DR-ready, FAIL for
exactly what a mutation breaks, ERROR when a read is denied, and the API shapes moto does not produce
(replicas out of sync, images from other registries) through response hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.scenario import Outcome, changed_verdicts, denied, run_checks

DB_SECRET = "spacelift/db-conn-string-ab12c"
SHARED_SECRET = "spacelift/shared-secrets-ab12c"
PARAMETER = "/spacelift/ab12c/database-read-only-url"


def test_dr_ready_installation_passes_every_replacement_service_requirement(dr_ready: Outcome) -> None:
    verdicts = {k: v for k, v in dr_ready.verdicts.items() if k.startswith(("DR-SVC-02", "DR-SVC-03", "DR-SVC-04"))}
    assert verdicts == {
        "DR-SVC-02:spacelift-ab12c": "PASS",
        "DR-SVC-03:spacelift-ab12c": "PASS",
        f"DR-SVC-04:{DB_SECRET}": "PASS",
        f"DR-SVC-04:{SHARED_SECRET}": "PASS",
        f"DR-SVC-04:{PARAMETER}": "PASS",
    }
    parameter = dr_ready.result("DR-SVC-04", PARAMETER)
    assert parameter["evidence"]["in_backup_region"] == [PARAMETER]
    assert {"action": "ssm:DescribeParameters", "region": "eu-central-1",
            "resource": f"ssm parameter {PARAMETER} in eu-central-1"} in parameter["actions"]
    secret = dr_ready.result("DR-SVC-04", DB_SECRET)
    assert secret["evidence"]["referenced_by"] == [f"{role}:DATABASE_URL" for role in ("drain", "scheduler", "server")]
    assert secret["evidence"]["secret"]["ReplicationStatus"][0]["Status"] == "InSync"
    evidence = dr_ready.result("DR-SVC-03")["evidence"]
    (digests,) = evidence["digests"].values()
    assert digests["eu-west-1"] == digests["eu-central-1"]
    assert digests["eu-west-1"].startswith("sha256:")
    (rules,) = evidence["replication_rules_to_backup_region"].values()
    assert rules[0]["destinations"] == [{"region": "eu-central-1", "registryId": "123456789012"}]
    (image,) = dr_ready.result("DR-SVC-03")["evidence"]["images"]
    assert image["ecr_region"] == "eu-west-1"
    assert image["repository"] == "spacelift-backend-ab12c"
    assert dr_ready.result("DR-SVC-02")["evidence"]["task_definitions"]["server"].endswith(":task-definition/"
                                                                                            "server-ab12c:1")


BREAKS = {
    "efs-volume:server": {"DR-SVC-02:spacelift-ab12c"},
    "no-registry-replication": {"DR-SVC-03:spacelift-ab12c"},
    "image-pushed-before-replication": {"DR-SVC-03:spacelift-ab12c"},
    "image-tag-stale:backup": {"DR-SVC-03:spacelift-ab12c"},
    "unreplicated-secret:shared": {f"DR-SVC-04:{SHARED_SECRET}"},
    "ssm-parameter-missing:backup": {f"DR-SVC-04:{PARAMETER}"},
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    changed = changed_verdicts(dr_ready, broken)
    assert changed == dict.fromkeys(BREAKS[mutation], "FAIL")
    for key in BREAKS[mutation]:
        result = next(r for r in broken.results if r["id"] == key)
        assert result["evidence"], "a FAIL carries its evidence"
    messages = {r["id"]: r["message"] for r in broken.results if r["id"] in BREAKS[mutation]}
    expected_text = {
        "efs-volume:server": "server mounts EFS file system fs-0123456789abcdef0 (volume data at "
                             "server:/var/lib/spacelift), expected no persistent volume",
        "no-registry-replication": "spacelift-backend-ab12c:v3.0.0 is not in the repository spacelift-backend-ab12c "
                                   "of eu-central-1",
        "image-pushed-before-replication": "spacelift-backend-ab12c:v3.0.0 is not in the repository "
                                           "spacelift-backend-ab12c of eu-central-1 (expected the same image digest "
                                           "in eu-central-1; a replication rule copies only pushes made after it",
        "image-tag-stale:backup": "spacelift-backend-ab12c:v3.0.0 is sha256:",
        "unreplicated-secret:shared": f"{SHARED_SECRET} is replicated to no region, expected a replica in "
                                      "eu-central-1",
        "ssm-parameter-missing:backup": f"SSM parameter {PARAMETER} (eu-west-1) has no parameter of the same name "
                                        f"in eu-central-1 (parameters never replicate)",
    }[mutation]
    assert all(expected_text in message for message in messages.values()), messages


def _rewrite(operation: str, service: str, change: Any) -> tuple[str, Any]:
    def handler(parsed: dict[str, Any], **_: Any) -> None:
        change(parsed)
    return (f"after-call.{service}.{operation}", handler)


def test_missing_service_leaves_the_others_evaluated(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["no-scheduler-service", "efs-volume:server"]), tmp_path,
                         "--dr-requirement", "DR-SVC-02")
    result = outcome.result("DR-SVC-02")
    assert result["status"] == "FAIL"
    assert result["evidence"]["services_not_found"] == ["scheduler"]
    assert sorted(result["evidence"]["task_definitions"]) == ["drain", "server"]


def test_replica_not_in_sync_fails(moto: DemoServer, tmp_path: Path) -> None:
    # moto reports every replica InSync; a real replica can be Failed or still InProgress.
    statuses = {DB_SECRET: "Failed", SHARED_SECRET: "InProgress"}

    def out_of_sync(parsed: dict[str, Any]) -> None:
        for replica in parsed.get("ReplicationStatus", []):
            replica.update(Status=statuses[parsed["Name"]], StatusMessage="KMS key not found in eu-central-1")

    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-04",
                         hooks=[_rewrite("DescribeSecret", "secretsmanager", out_of_sync)])
    for name, status in statuses.items():
        result = outcome.result("DR-SVC-04", name)
        assert result["status"] == "FAIL"
        assert result["message"] == (f"{name}'s replica in eu-central-1 is {status} (KMS key not found in "
                                     f"eu-central-1), expected InSync")


def test_images_from_other_registries_are_not_region_bound(moto: DemoServer, tmp_path: Path) -> None:
    images = {"server": "public.ecr.aws/spacelift/backend:v3.0.0", "drain": "ghcr.io/spacelift-io/backend:v3",
              "scheduler": "docker.io/library/busybox:1.36"}

    def elsewhere(parsed: dict[str, Any]) -> None:
        for container in parsed["taskDefinition"]["containerDefinitions"]:
            container["image"] = images[container["name"]]

    outcome = run_checks(seed(moto.url, ["no-registry-replication"]), tmp_path, "--dr-requirement", "DR-SVC-03",
                         hooks=[_rewrite("DescribeTaskDefinition", "ecs", elsewhere)])
    result = outcome.result("DR-SVC-03")
    assert result["status"] == "N/A"
    assert result["message"] == ("no image of server, drain, scheduler is in a private ECR registry "
                                 "(docker.io, ghcr.io, public.ecr.aws are not region-bound)")
    assert "ecr:DescribeRegistry" not in outcome.document["api_calls"]["by_action"]
    assert "ecr:DescribeImages" not in outcome.document["api_calls"]["by_action"]


@pytest.mark.parametrize(("operation", "service", "requirement", "count"), [
    ("DescribeImages", "ecr", "DR-SVC-03", 1),
    ("DescribeSecret", "secretsmanager", "DR-SVC-04", 2),
    ("DescribeParameters", "ssm", "DR-SVC-04", 1),
])
def test_denied_reads_are_errors(operation: str, service: str, requirement: str, count: int, moto: DemoServer,
                                 tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", requirement, hooks=denied(operation, service))
    errors = [r for r in outcome.results if r["status"] == "ERROR"]
    assert len(errors) == count
    assert {r["status"] for r in outcome.results} <= {"ERROR", "PASS"}
    assert all(r["message"].startswith(f"{service}:{operation} denied on ") for r in errors)


def test_unreadable_task_definitions_make_each_check_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-02,DR-SVC-03,DR-SVC-04",
                         hooks=denied("DescribeTaskDefinition", "ecs"))
    # Discovery failed, so the secrets are unknown: one placeholder check stands for them and errs.
    assert sorted(r["requirement"] for r in outcome.results) == ["DR-SVC-02", "DR-SVC-03", "DR-SVC-04"]
    assert {r["status"] for r in outcome.results} == {"ERROR"}
    assert all("ecs:DescribeTaskDefinition denied" in r["message"] for r in outcome.results)


@pytest.mark.parametrize("form", ["bare name", "name without a slash", "secret created in the backup region"])
def test_references_in_other_sound_shapes_pass(form: str, moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    ssm = {r: boto3.client("ssm", region_name=r, endpoint_url=moto.url, aws_access_key_id="t",
                           aws_secret_access_key="t") for r in ("eu-west-1", "eu-central-1")}
    if form == "bare name":  # a parameter of the task's own region, referenced by name
        value_from, label = PARAMETER, PARAMETER
    elif form == "name without a slash":
        for client in ssm.values():
            client.put_parameter(Name="spacelift-license", Type="SecureString", Value="never-read")
        value_from, label = "spacelift-license", "spacelift-license"
    else:
        backup = boto3.client("secretsmanager", region_name="eu-central-1", endpoint_url=moto.url,
                              aws_access_key_id="t", aws_secret_access_key="t")
        value_from = backup.create_secret(Name="spacelift/dr-only", SecretString="never-read")["ARN"]
        label = "spacelift/dr-only"

    def reference(parsed: dict[str, Any]) -> None:
        for container in parsed["taskDefinition"]["containerDefinitions"]:
            container["secrets"].append({"name": "EXTRA_SECRET", "valueFrom": value_from})

    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-SVC-04",
                         hooks=[_rewrite("DescribeTaskDefinition", "ecs", reference)])
    result = outcome.result("DR-SVC-04", label)
    assert result["status"] == "PASS", result["message"]
    assert "never-read" not in (outcome.reports / "dr-results.json").read_text()


def test_registry_rules_are_evidence_only(moto: DemoServer, tmp_path: Path) -> None:
    # The verdict rests on the images found in the backup region; an unreadable registry configuration is shown.
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-03",
                         hooks=denied("DescribeRegistry", "ecr"))
    result = outcome.result("DR-SVC-03")
    assert result["status"] == "PASS", result["message"]
    (rules,) = result["evidence"]["replication_rules_to_backup_region"].values()
    assert rules.startswith("not observed (ecr:DescribeRegistry denied on ecr registry 123456789012 in eu-west-1")


def test_an_image_pinned_by_digest_is_looked_up_by_digest(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    ecr = boto3.client("ecr", region_name="eu-west-1", endpoint_url=moto.url, aws_access_key_id="t",
                       aws_secret_access_key="t")
    digest = ecr.describe_images(repositoryName="spacelift-backend-ab12c")["imageDetails"][0]["imageDigest"]

    def pinned(parsed: dict[str, Any]) -> None:
        for container in parsed["taskDefinition"]["containerDefinitions"]:
            container["image"] = container["image"].rsplit(":", 1)[0] + f"@{digest}"

    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-SVC-03",
                         hooks=[_rewrite("DescribeTaskDefinition", "ecs", pinned)])
    result = outcome.result("DR-SVC-03")
    assert result["status"] == "PASS", result["message"]
    assert {a["resource"] for a in result["actions"] if a["action"] == "ecr:DescribeImages"} == {
        f"spacelift-backend-ab12c:{digest} in eu-west-1", f"spacelift-backend-ab12c:{digest} in eu-central-1"}
