"""Least privilege: the published IAM policy is exactly what the checks call, a run holding only that
policy has no ERROR (moto with IAM enforced), and denying any one action turns exactly the checks that
need it into ERROR naming it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import settings as moto_settings

from spacelift_dr.aws import READ_ONLY_OPERATIONS
from spacelift_dr.demo import Demo, DemoServer, seed
from spacelift_dr.policy import POLICY_FILE, least_privilege_policy, render, required_actions
from tests.scenario import Outcome, denied, run_checks

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = required_actions()


def test_the_published_policy_is_the_generated_one() -> None:
    published = (ROOT / POLICY_FILE).read_text(encoding="utf-8")
    assert published == render(least_privilege_policy()), "regenerate it: make policy"


def test_every_allowed_operation_is_one_the_code_makes() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "spacelift_dr").rglob("*.py")
                       if "demo" not in p.parts and p.name != "aws.py")
    unused = [f"{service}:{op}" for service, ops in READ_ONLY_OPERATIONS.items() for op in ops
              if not re.search(rf'"{op}"', source)]
    assert unused == [], "least privilege: drop operations no check makes"


def test_a_full_run_makes_only_operations_the_policy_allows(dr_ready: Outcome) -> None:
    made = set(dr_ready.document["api_calls"]["by_action"])
    assert made, "the run made AWS calls"
    assert made <= set(ACTIONS)


# moto 5.2 authorizes some requests under names that are not real IAM actions: HeadBucket as
# s3:HeadBucket (AWS requires s3:ListBucket). The user in moto gets both; the published policy stays real.
MOTO_ACTION_NAMES = {"s3:ListBucket": ["s3:HeadBucket"],
                     # and CloudWatch under its endpoint prefix (AWS: cloudwatch:GetMetricData).
                     "cloudwatch:GetMetricData": ["monitoring:GetMetricData"]}
# moto 5.2 answers every signed Route 53 request under IAM enforcement with SignatureDoesNotMatch, so a
# Route 53 read cannot be authorized there at all. Those results are ERROR in the enforced run (never a
# verdict); denial of the Route 53 actions is shown with API-shaped answers in tests/test_broker_scenarios.py.
MOTO_CANNOT_AUTHORIZE = ("route53:",)


# moto 5.2 authorizes GetBucketReplication and GetBucketEncryption as s3:ListBucket (its S3 action map
# lacks them), so denying their real IAM actions has no effect there: those two denials are answered with
# API-shaped AccessDenied instead (tests.scenario.denied), and a moto denial of s3:ListBucket also shows up
# under their names.
MOTO_AS_LIST_BUCKET = {"s3:GetReplicationConfiguration": "GetBucketReplication",
                       "s3:GetEncryptionConfiguration": "GetBucketEncryption"}
SAME_IN_MOTO = {"s3:ListBucket": {"s3:ListBucket", *MOTO_AS_LIST_BUCKET}}

# Reads whose failure rightly leaves a verdict standing, each with the reason:
# - DR-DB-04 holds when any one of five mechanisms does; the demo's global cluster suffices, and the
#   evidence shows the other mechanisms as not observable. DR-DB-09 measures the copy that holds, and
#   DR-KMS-06 follows its key, so they stand too.
# - key rotation is recorded as evidence only; no requirement asks for it.
OTHER_MECHANISMS = {"backup:ListBackupPlans", "backup:GetBackupPlan", "backup:ListBackupSelections",
                    "backup:GetBackupSelection", "backup:DescribeRegionSettings", "backup:DescribeBackupVault",
                    "backup:ListRecoveryPointsByBackupVault", "rds:DescribeDBClusterSnapshots",
                    "rds:DescribeDBInstanceAutomatedBackups", "rds:DescribeDBSnapshots"}
VERDICT_STANDS = {
    "DR-DB-04": OTHER_MECHANISMS,
    "DR-DB-09": OTHER_MECHANISMS,
    # DR-SVC-03 rests on the images found in the backup region; the registry's rules are evidence only.
    "DR-SVC-03": {"ecr:DescribeRegistry"},
    **{req: {"kms:GetKeyRotationStatus"} for req in ("DR-KMS-02", "DR-KMS-03", "DR-KMS-04", "DR-KMS-05")},
    "DR-KMS-06": {"kms:GetKeyRotationStatus", *OTHER_MECHANISMS},
}


def _route53_error(result: dict[str, Any]) -> bool:
    return result["status"] == "ERROR" and result["message"].startswith(MOTO_CANNOT_AUTHORIZE)


def _as_moto_authorizes(policy: dict[str, Any]) -> dict[str, Any]:
    statement = dict(policy["Statement"][0])
    statement["Action"] = sorted({*statement["Action"], *(n for a in statement["Action"]
                                                          for n in MOTO_ACTION_NAMES.get(a, []))})
    return {**policy, "Statement": [statement]}


class _Auditors:
    """IAM users in the moto account: one holding exactly the policy, one per action denied."""

    def __init__(self, demo: Demo) -> None:
        self.iam = boto3.client("iam", region_name="us-east-1", endpoint_url=demo.endpoint_url,
                                aws_access_key_id="seed", aws_secret_access_key="seed")
        self.keys: dict[str, tuple[str, str]] = {}

    def user(self, name: str, policy: dict[str, Any]) -> None:
        self.iam.create_user(UserName=name)
        self.iam.put_user_policy(UserName=name, PolicyName="dr-suite", PolicyDocument=json.dumps(policy))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        self.keys[name] = (key["AccessKeyId"], key["SecretAccessKey"])


# Reads no verdict rests on: the caller identity (report metadata) and key rotation (evidence only).
NO_VERDICT_RESTS_ON = {"sts:GetCallerIdentity", "kms:GetKeyRotationStatus"}


@dataclass
class Enforced:
    demo: Demo
    auditors: _Auditors
    overrides: dict[str, Any] | None
    holding: Outcome


@pytest.fixture(scope="module")
def enforced(moto_server: DemoServer, dr_ready: Outcome,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enforced]:
    """The DR-ready demo with IAM enforced (moto checks every request against the caller's policies)."""
    moto_server.reset()
    demo, overrides = seed(moto_server.url), None
    auditors = _Auditors(demo)
    policy = _as_moto_authorizes(least_privilege_policy())
    auditors.user("dr-auditor", policy)
    for index, action in enumerate(ACTIONS):
        denying = {**policy, "Statement": [*policy["Statement"], {
            "Effect": "Deny", "Action": [action, *MOTO_ACTION_NAMES.get(action, [])], "Resource": "*"}]}
        auditors.user(f"dr-auditor-without-{index}", denying)
    saved = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from now on every request is authorized
    try:
        holding = run_checks(demo, tmp_path_factory.mktemp("holding"), overrides=overrides,
                             credentials=auditors.keys["dr-auditor"])
        yield Enforced(demo, auditors, overrides, holding)
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = saved
        moto_server.reset()


def test_a_run_holding_exactly_the_policy_has_no_error(enforced: Enforced, dr_ready: Outcome) -> None:
    outcome = enforced.holding
    errors = {r["id"]: r["message"] for r in outcome.results if r["status"] == "ERROR" and not _route53_error(r)}
    assert errors == {}
    moto_gap = {r["id"] for r in outcome.results if _route53_error(r)}
    assert {r["requirement"] for r in outcome.results if r["id"] in moto_gap} <= {"DR-BRK-03"}
    assert {k: v for k, v in outcome.verdicts.items() if k not in moto_gap} == \
        {k: v for k, v in dr_ready.verdicts.items() if k not in moto_gap}


# moto has no iam:SimulatePrincipalPolicy: the demo answers it before the request is sent (so moto's IAM
# enforcement never sees it). Its denial is shown with API-shaped answers in
# tests/test_service_permissions_scenarios.py.
MOTO_HAS_NO = ("iam:SimulatePrincipalPolicy",)


def _cases() -> list[Any]:
    cases = []
    for index, action in enumerate(ACTIONS):
        marks = []
        if action.startswith(MOTO_CANNOT_AUTHORIZE):
            marks.append(pytest.mark.skip(reason="moto cannot authorize Route 53 requests (SignatureDoesNotMatch)"))
        if action in MOTO_HAS_NO:
            marks.append(pytest.mark.skip(reason="moto has no SimulatePrincipalPolicy; the demo answers it"))
        cases.append(pytest.param(index, marks=marks, id=action))
    return cases


@pytest.mark.parametrize("index", _cases())
def test_denying_one_action_errors_exactly_the_checks_that_need_it(index: int, enforced: Enforced,
                                                                   tmp_path: Path) -> None:
    action = ACTIONS[index]
    hooks = denied(MOTO_AS_LIST_BUCKET[action], "s3") if action in MOTO_AS_LIST_BUCKET else []
    outcome = run_checks(enforced.demo, tmp_path, overrides=enforced.overrides, hooks=hooks,
                         credentials=enforced.auditors.keys[f"dr-auditor-without-{index}"])
    if action in NO_VERDICT_RESTS_ON:
        assert outcome.verdicts == enforced.holding.verdicts
        return
    needing = {r["id"] for r in enforced.holding.results if any(a["action"] == action for a in r["actions"])
               and action not in VERDICT_STANDS.get(r["requirement"], set())}
    if not needing:
        # IoT Core, AWS Backup plans, snapshots and plain RDS instances are read only in other set-ups;
        # the area scenario tests deny those reads with API-shaped answers.
        pytest.skip(f"no check reads {action} in the DR-ready builtin demo")
    names = SAME_IN_MOTO.get(action, {action})
    held = enforced.holding.verdicts
    for result in outcome.results:
        if result["id"] in needing:
            if held[result["id"]] == result["status"] == "N/A":
                continue  # it does not apply for another reason too (DR-DB-08: no DSN as well as Aurora)
            assert result["status"] == "ERROR", (result["id"], result["message"])
            assert any(name in result["message"] for name in names) or _route53_error(result), result["message"]
