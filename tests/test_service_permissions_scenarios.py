"""The services' IAM permissions in the backup region (DR-SVC-05) against a seeded moto server. moto has no
iam:SimulatePrincipalPolicy: the demo answers it with IAM's XML (spacelift_dr/demo/roles.py), and the shapes
of a real answer it never gives (per-resource results, a missing decision) are tested on the facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.permissions import decisions_from_api, in_region
from tests.scenario import Outcome, changed_verdicts, denied, run_checks

SERVICES = ("server", "drain", "scheduler")
DRAIN_ROLE = "arn:aws:iam::123456789012:role/spacelift-drain-role-ab12c"


def test_dr_ready_roles_work_in_the_backup_region(dr_ready: Outcome) -> None:
    for service in SERVICES:
        result = dr_ready.result("DR-SVC-05", f"spacelift-ab12c/{service}")
        assert result["status"] == "PASS", result["message"]
        evidence = result["evidence"]
        assert evidence["roles"] == [f"arn:aws:iam::123456789012:role/spacelift-{service}-role-ab12c",
                                     "arn:aws:iam::123456789012:role/spacelift-execution-role-ab12c"]
        resources = {r["resource"]: r for r in evidence["resources"]}
        assert resources["encryption key"]["backup"].startswith("arn:aws:kms:eu-central-1:123456789012:key/mrk-")
        assert resources["states bucket"]["backup"] == "arn:aws:s3:::spacelift-states-ab12c-dr/*"
        assert resources["secret spacelift/db-conn-string-ab12c"]["actions"] == ["secretsmanager:GetSecretValue"]
        assert resources["parameter /spacelift/ab12c/database-read-only-url"]["backup"].startswith(
            "arn:aws:ssm:eu-central-1:")
        assert evidence["allowed_in_primary"] > 0
        assert evidence["denied_in_backup_region"] == []
        assert "iam:SimulatePrincipalPolicy" in {a["action"] for a in result["actions"]}
    notes = " ".join(dr_ready.document.get("notes", []))
    assert "SimulatePrincipalPolicy" not in notes  # a configured run, not the demo: no replay is announced


@pytest.mark.parametrize(("mutation", "failing"), [
    ("task-role-primary-only:drain", {"drain"}),
    ("execution-role-primary-only", set(SERVICES)),
])
def test_grants_on_primary_arns_only_fail(mutation: str, failing: set[str], dr_ready: Outcome, moto: DemoServer,
                                          tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    assert changed_verdicts(dr_ready, broken) == {f"DR-SVC-05:spacelift-ab12c/{s}": "FAIL" for s in failing}
    result = broken.result("DR-SVC-05", f"spacelift-ab12c/{sorted(failing)[0]}")
    if mutation.startswith("task-role"):
        assert result["message"].startswith("spacelift-drain-role-ab12c may kms:Encrypt on the encryption key in "
                                            "the primary region but not on arn:aws:kms:eu-central-1:")
        assert "(implicitDeny)" in result["message"]
    else:
        assert "spacelift-execution-role-ab12c may secretsmanager:GetSecretValue on the secret" in result["message"]
    assert result["message"].endswith("expected the same permissions on the eu-central-1 resources "
                                      "(iam:SimulatePrincipalPolicy)")
    gap = result["evidence"]["denied_in_backup_region"][0]
    assert gap["primary"]["decision"] == "allowed"
    assert gap["backup"]["decision"] == "implicitDeny"


def test_iot_core_topics_are_compared_for_server_and_drain(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["task-role-primary-only:drain"], variant="iotcore"), tmp_path,
                         "--dr-requirement", "DR-SVC-05")
    drain = outcome.result("DR-SVC-05", "drain")
    assert drain["status"] == "FAIL"
    assert any(g["action"] == "iot:Publish" and g["backup"]["arn"] ==
               "arn:aws:iot:eu-central-1:123456789012:topic/spacelift/workers"
               for g in drain["evidence"]["denied_in_backup_region"])
    server = outcome.result("DR-SVC-05", "server")
    assert server["status"] == "PASS"
    assert "IoT topic" in {r["resource"] for r in server["evidence"]["resources"]}
    assert "IoT topic" not in {r["resource"] for r in outcome.result("DR-SVC-05", "scheduler")["evidence"]["resources"]}


def test_denied_simulation_is_an_error_naming_the_role(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-05",
                         hooks=denied("SimulatePrincipalPolicy", "iam"))
    for service in SERVICES:
        result = outcome.result("DR-SVC-05", service)
        assert result["status"] == "ERROR"
        assert result["message"].startswith("iam:SimulatePrincipalPolicy denied on arn:aws:iam::123456789012:role/")


def test_an_endpoint_that_cannot_simulate_is_never_compliant(moto: DemoServer, tmp_path: Path) -> None:
    # Without the demo's answers, moto itself is asked: it has no SimulatePrincipalPolicy.
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-05", replay_seeded=False)
    for service in SERVICES:
        result = outcome.result("DR-SVC-05", service)
        assert result["status"] == "ERROR", result["message"]
        assert result["message"].startswith("iam:SimulatePrincipalPolicy")


def test_an_answer_without_a_decision_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    def drop_kms(parsed: dict[str, Any], **_: Any) -> None:
        parsed["EvaluationResults"] = [r for r in parsed.get("EvaluationResults", [])
                                       if r["EvalActionName"] != "kms:Decrypt"]

    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-05",
                         hooks=[("after-call.iam.SimulatePrincipalPolicy", drop_kms)])
    result = outcome.result("DR-SVC-05", "drain")
    assert result["status"] == "ERROR"
    assert "the answer has no decision for kms:Decrypt" in result["message"]


def test_task_definitions_without_roles_are_not_applicable(moto: DemoServer, tmp_path: Path) -> None:
    def no_roles(parsed: dict[str, Any], **_: Any) -> None:
        parsed["taskDefinition"].pop("taskRoleArn", None)
        parsed["taskDefinition"].pop("executionRoleArn", None)

    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-SVC-05",
                         hooks=[("after-call.ecs.DescribeTaskDefinition", no_roles)])
    for service in SERVICES:
        result = outcome.result("DR-SVC-05", service)
        assert result["status"] == "N/A"
        assert "names no IAM role (ECS taskRoleArn or executionRoleArn" in result["message"]
    assert "iam:SimulatePrincipalPolicy" not in outcome.document["api_calls"]["by_action"]


def test_per_resource_results_decide_over_the_summary() -> None:
    arn = "arn:aws:s3:::spacelift-states-ab12c-dr/*"
    results = [{"EvalActionName": "s3:GetObject", "EvalResourceName": "*", "EvalDecision": "allowed",
                "ResourceSpecificResults": [{"EvalResourceName": arn, "EvalResourceDecision": "explicitDeny"}]},
               {"EvalActionName": "S3:PutObject", "EvalResourceName": arn, "EvalDecision": "allowed"}]
    assert decisions_from_api(results, DRAIN_ROLE, (arn,), ("s3:GetObject", "s3:PutObject")) == {
        arn: {"s3:GetObject": "explicitDeny", "s3:PutObject": "allowed"}}
    with pytest.raises(Unobservable, match="the answer has no decision for s3:DeleteObject"):
        decisions_from_api(results, DRAIN_ROLE, (arn,), ("s3:DeleteObject",))


PRIMARY_BUCKET, BACKUP_BUCKET = "arn:aws:s3:::spacelift-states-ab12c/*", "arn:aws:s3:::spacelift-states-ab12c-dr/*"
BOTH = (PRIMARY_BUCKET, BACKUP_BUCKET)


def test_one_result_per_action_with_each_resources_decision() -> None:
    """IAM's current answer: one result per action, the most restrictive decision on top."""
    results = [{"EvalActionName": action, "EvalDecision": "implicitDeny", "ResourceSpecificResults": [
        {"EvalResourceName": PRIMARY_BUCKET, "EvalResourceDecision": "allowed"},
        {"EvalResourceName": BACKUP_BUCKET, "EvalResourceDecision": "implicitDeny"}]}
        for action in ("s3:GetObject", "s3:PutObject")]
    assert decisions_from_api(results, DRAIN_ROLE, BOTH, ("s3:GetObject", "s3:PutObject")) == {
        PRIMARY_BUCKET: {"s3:GetObject": "allowed", "s3:PutObject": "allowed"},
        BACKUP_BUCKET: {"s3:GetObject": "implicitDeny", "s3:PutObject": "implicitDeny"}}


def test_an_aggregate_allow_speaks_for_every_resource() -> None:
    """IAM's earlier answer: one result per action and resource, each with the same aggregate decision
    and no per-resource results. An allow over all resources allows each."""
    results = [{"EvalActionName": "s3:GetObject", "EvalResourceName": arn, "EvalDecision": "allowed"} for arn in BOTH]
    assert decisions_from_api(results, DRAIN_ROLE, BOTH, ("s3:GetObject",)) == {
        PRIMARY_BUCKET: {"s3:GetObject": "allowed"}, BACKUP_BUCKET: {"s3:GetObject": "allowed"}}


def test_an_aggregate_deny_over_several_resources_is_not_understood() -> None:
    """Which resource was denied, the aggregate does not say: neither PASS nor FAIL can rest on it."""
    results = [{"EvalActionName": "s3:GetObject", "EvalResourceName": arn, "EvalDecision": "implicitDeny"}
               for arn in BOTH]
    with pytest.raises(Unobservable, match="the answer has no decision for s3:GetObject on this resource"):
        decisions_from_api(results, DRAIN_ROLE, BOTH, ("s3:GetObject",))


def test_one_simulation_per_role_and_set_of_actions(dr_ready: Outcome) -> None:
    """IAM throttles simulations: the roles' resources are simulated together, per set of actions."""
    simulations = dr_ready.document["api_calls"]["by_action"]["iam:SimulatePrincipalPolicy"]
    probed = 0
    for service in SERVICES:
        evidence = dr_ready.result("DR-SVC-05", f"spacelift-ab12c/{service}")["evidence"]
        probed += len(evidence["roles"]) * 2 * len(evidence["resources"])  # each resource in both regions
    action_sets = {tuple(r["actions"]) for s in SERVICES
                   for r in dr_ready.result("DR-SVC-05", f"spacelift-ab12c/{s}")["evidence"]["resources"]}
    assert simulations <= len(SERVICES) * 2 * len(action_sets) < probed


def test_backup_region_twins_keep_every_other_part_of_the_arn() -> None:
    assert in_region("arn:aws:kms:eu-west-1:123456789012:key/mrk-1", "eu-central-1") == \
        "arn:aws:kms:eu-central-1:123456789012:key/mrk-1"
    assert in_region("arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf", "eu-central-1") == \
        "arn:aws:secretsmanager:eu-central-1:1:secret:db-AbCdEf"
    with pytest.raises(ValueError):
        in_region("alias/spacelift", "eu-central-1")


def test_declared_settings_are_not_applicable_never_a_pass(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    settings = {"ENCRYPTION_TYPE": "kms", "MQTT_BROKER_TYPE": "builtin", "SERVER_DOMAIN": "spacelift.example.com"}
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-SVC-01,DR-SVC-05",
                         overrides={"installation": {"discover": {"ecs_cluster": None}, "settings": settings}})
    for requirement in ("DR-SVC-01", "DR-SVC-05"):
        statuses = {r["status"] for r in outcome.results if r["requirement"] == requirement}
        assert statuses == {"N/A"}, requirement
    assert "every setting is declared in the config" in outcome.result("DR-SVC-01", "server")["message"]
    assert "the settings are declared" in outcome.result("DR-SVC-05", "server")["message"]
