"""State locking without the primary region (DR-CON-09) and Terragrunt on the break-glass workstation
(DR-CON-08) against a seeded moto server and copies of the demo's code tree. moto answers DescribeTable
without ``Replicas`` even for a global table: the replicas are given back with API-shaped answers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from spacelift_dr.demo import Demo, DemoServer, seed
from spacelift_dr.demo.continuity import TERRAFORM_DIR
from tests.scenario import Outcome, denied, run_checks
from tests.test_continuity_hosts import AWS_2, TERRAFORM_1_9, fake_tools

TABLE = "acme-terraform-locks"


def test_dr_ready_code_locks_with_lock_files(dr_ready: Outcome) -> None:
    for module in ("terraform/network", "terraform/platform"):
        result = dr_ready.result("DR-CON-09", module)
        assert result["status"] == "PASS"
        assert result["evidence"]["backend"] == {"use_lockfile": True, "dynamodb_table": None, "region": "eu-west-1"}
        assert "lock file beside its state" in result["message"]


def _code(tmp_path: Path, modules: dict[str, str]) -> dict[str, Any]:
    target = tmp_path / "code" / "terraform"
    shutil.copytree(TERRAFORM_DIR, target)
    for name, text in modules.items():
        (target / name).mkdir(parents=True)
        (target / name / ("terragrunt.hcl" if "remote_state" in text else "main.tf")).write_text(text,
                                                                                                 encoding="utf-8")
    return {"continuity": {"terraform_dirs": [str(target)]}}


def _backend(table: str | None = TABLE, lockfile: bool = False, region: str = "eu-west-1") -> str:
    settings = ['bucket = "spacelift-tfstate-ab12c"', 'key = "legacy/terraform.tfstate"', f'region = "{region}"']
    if table:
        settings.append(f'dynamodb_table = "{table}"')
    if lockfile:
        settings.append("use_lockfile = true")
    return "terraform {\n  backend \"s3\" {\n    " + "\n    ".join(settings) + "\n  }\n}\nprovider \"aws\" {}\n"


def _table(demo: Demo, region: str = "eu-west-1") -> None:
    boto3.client("dynamodb", region_name=region, endpoint_url=demo.endpoint_url, aws_access_key_id="t",
                 aws_secret_access_key="t").create_table(
        TableName=TABLE, KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _replicas(*replicas: tuple[str, str]) -> list[tuple[str, Any]]:
    """DescribeTable answers as AWS answers for a global table (version 2019.11.21)."""
    def answer(parsed: dict[str, Any], **_: Any) -> None:
        table = parsed.get("Table")
        if table and table.get("TableName") == TABLE:
            table["GlobalTableVersion"] = "2019.11.21"
            table["Replicas"] = [{"RegionName": region, "ReplicaStatus": status} for region, status in replicas]
    return [("after-call.dynamodb.DescribeTable", answer)]


@pytest.mark.parametrize(("backend", "replicas", "status", "message"), [
    (_backend(), [("eu-central-1", "ACTIVE")], "PASS", f"locks in {TABLE}, a global table with an ACTIVE replica"),
    (_backend(), [], "FAIL", f"lock table {TABLE} lives only in eu-west-1 (replicas: no other region): without "
                             f"the primary region, runs would need -lock=false"),
    (_backend(lockfile=True), [], "FAIL", "use_lockfile = true beside it does not help"),
    (_backend(), [("eu-central-1", "CREATING")], "FAIL", f"lock table {TABLE}'s replica in eu-central-1 is CREATING"),
    (_backend(), [("us-east-1", "ACTIVE")], "FAIL", "(replicas: us-east-1)"),
    (_backend(table=None, lockfile=True), [], "PASS", "lock file beside its state"),
])
def test_lock_table_must_have_a_replica_in_the_backup_region(backend: str, replicas: list[tuple[str, str]],
                                                             status: str, message: str, moto: DemoServer,
                                                             tmp_path: Path) -> None:
    demo = seed(moto.url)
    _table(demo)
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-09",
                         overrides=_code(tmp_path, {"legacy": backend}), hooks=_replicas(*replicas))
    result = outcome.result("DR-CON-09", "terraform/legacy")
    assert result["status"] == status, result["message"]
    assert message in result["message"]
    assert outcome.status("DR-CON-09", "terraform/network") == "PASS"


def test_a_backend_without_locking_is_not_applicable_and_a_missing_table_fails(moto: DemoServer,
                                                                               tmp_path: Path) -> None:
    demo = seed(moto.url)
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-09", overrides=_code(tmp_path, {
        "unlocked": _backend(table=None), "gone": _backend(table="no-such-table")}))
    unlocked = outcome.result("DR-CON-09", "terraform/unlocked")
    assert unlocked["status"] == "N/A"
    assert "takes no lock (neither use_lockfile nor dynamodb_table)" in unlocked["message"]
    gone = outcome.result("DR-CON-09", "terraform/gone")
    assert gone["status"] == "FAIL"
    assert gone["message"] == "terraform/gone's lock table no-such-table does not exist in eu-west-1"


def test_a_lock_table_in_the_backup_region_survives(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    _table(demo, "eu-central-1")
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-09",
                         overrides=_code(tmp_path, {"legacy": _backend(region="eu-central-1")}))
    assert outcome.status("DR-CON-09", "terraform/legacy") == "PASS"


def test_terragrunt_remote_state_locking_is_read_too(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    _table(demo)
    unit = ('terraform {\n  source = "../modules/vpc"\n}\nremote_state {\n  backend = "s3"\n  config = {\n'
            f'    bucket = "spacelift-tfstate-ab12c"\n    key = "tg/terraform.tfstate"\n    region = "eu-west-1"\n'
            f'    dynamodb_table = "{TABLE}"\n  }}\n}}\n')
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-09", overrides=_code(tmp_path, {"tg": unit}),
                         hooks=_replicas())
    result = outcome.result("DR-CON-09", "terraform/tg")
    assert result["status"] == "FAIL", result["message"]


def test_denied_describe_table_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    _table(demo)
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-09",
                         overrides=_code(tmp_path, {"legacy": _backend()}),
                         hooks=denied("DescribeTable", "dynamodb", code="AccessDeniedException"))
    result = outcome.result("DR-CON-09", "terraform/legacy")
    assert result["status"] == "ERROR"
    assert result["message"].startswith(f"dynamodb:DescribeTable denied on {TABLE} in eu-west-1")


def test_no_code_is_not_applicable(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-CON-09",
                         overrides={"continuity": {"terraform_dirs": []}})
    assert outcome.status("DR-CON-09") == "N/A"


TERRAGRUNT = "terragrunt version v0.67.16"


@pytest.mark.parametrize(("tools", "status", "message"), [
    ({"terraform": TERRAFORM_1_9, "aws": AWS_2, "terragrunt": TERRAGRUNT}, "PASS", "terragrunt 0.67.16"),
    ({"terraform": TERRAFORM_1_9, "aws": AWS_2}, "FAIL",
     "terragrunt is not installed on local://, expected it: the code has 1 Terragrunt unit (terraform/tg)"),
])
def test_terragrunt_is_required_when_the_code_has_units(tools: dict[str, str], status: str, message: str,
                                                       moto: DemoServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    unit = ('terraform {\n  source = "../modules/vpc"\n}\nremote_state {\n  backend = "s3"\n  config = {\n'
            '    bucket = "spacelift-tfstate-ab12c"\n    key = "tg/terraform.tfstate"\n    region = "eu-west-1"\n'
            '    use_lockfile = true\n  }\n}\n')
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", tools)))
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-CON-08",
                         overrides={**_code(tmp_path, {"tg": unit}), "hosts": ["local://"]})
    result = outcome.result("DR-CON-08", "local://")
    assert result["status"] == status, result["message"]
    assert message in result["message"]


def test_terragrunt_is_not_asked_for_without_units(moto: DemoServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", {"terraform": TERRAFORM_1_9, "aws": AWS_2})))
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-CON-08", overrides={"hosts": ["local://"]})
    result = outcome.result("DR-CON-08", "local://")
    assert result["status"] == "PASS"
    assert "terragrunt" not in result["evidence"]["installed"]
