"""Break-glass access (DR-CON-05 … 07) in the shapes revision 2 added, against a seeded moto server: trust
conditions on ``aws:PrincipalArn`` (how SSO break-glass roles are trusted), an MFA age bound, and deployment
roles read in other accounts through the profile ``continuity.accounts`` names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from spacelift_dr.demo import Demo, DemoServer, account_credentials, seed
from tests.scenario import run_checks

ACCOUNT = "123456789012"
PLATFORM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/spacelift-deploy-platform-ab12c"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/spacelift-break-glass-ab12c"
SSO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BreakGlass_0a1b2c3d"
SSO_PATTERN = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*"


def iam(demo: Demo) -> Any:
    return boto3.client("iam", region_name="us-east-1", endpoint_url=demo.endpoint_url,
                        aws_access_key_id="test", aws_secret_access_key="test")


def trust(demo: Demo, role_arn: str, *statements: dict[str, Any]) -> None:
    iam(demo).update_assume_role_policy(RoleName=role_arn.rsplit("/", 1)[-1], PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))


def through_root(condition: dict[str, Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole",
            "Condition": condition}


@pytest.mark.parametrize(("operator", "pattern", "status"), [
    ("ArnLike", SSO_PATTERN, "PASS"),
    ("StringLike", SSO_PATTERN, "PASS"),
    ("ArnEquals", SSO_ROLE, "PASS"),
    ("StringEquals", SSO_ROLE, "PASS"),
    ("ArnLike", SSO_PATTERN.replace("BreakGlass", "ReadOnly"), "FAIL"),
])
def test_sso_break_glass_role_trusted_through_a_principal_arn_condition(operator: str, pattern: str, status: str,
                                                                        moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    trust(demo, PLATFORM_ROLE, through_root({operator: {"aws:PrincipalArn": pattern}}))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-06",
                         overrides={"continuity": {"break_glass_principals": [SSO_ROLE]}})
    result = outcome.result("DR-CON-06", PLATFORM_ROLE)
    assert result["status"] == status, result["message"]
    if status == "FAIL":
        assert f"does not let {SSO_ROLE} assume it" in result["message"]
    assert outcome.status("DR-CON-06", "deploy-network") == "FAIL"  # still trusts only the demo's break-glass role


@pytest.mark.parametrize(("operator", "status"), [("NumericLessThan", "PASS"), ("NumericLessThanIfExists", "FAIL")])
def test_break_glass_role_requiring_a_recent_mfa_sign_in(operator: str, status: str, moto: DemoServer,
                                                         tmp_path: Path) -> None:
    demo = seed(moto.url)
    trust(demo, BREAK_GLASS, through_root({operator: {"aws:MultiFactorAuthAge": "3600"}}))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-07")
    result = outcome.result("DR-CON-07", BREAK_GLASS)
    assert result["status"] == status, result["message"]
    if status == "FAIL":
        assert "can be assumed without MFA" in result["message"]


OTHER_ACCOUNT = "210987654321"
OTHER_ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/spacelift-deploy-billing"


def _other_account(demo: Demo, tmp_path: Path, create_role: bool = True,
                   profile_account: str = OTHER_ACCOUNT) -> dict[str, str]:
    """A deployment role in another account and a credentials file with a profile for it; returns the
    environment that points the AWS config at that file."""
    credentials = account_credentials(demo.endpoint_url, profile_account)
    if create_role:
        other = boto3.client("iam", region_name="us-east-1", endpoint_url=demo.endpoint_url,
                             **account_credentials(demo.endpoint_url, OTHER_ACCOUNT))
        other.create_role(RoleName="spacelift-deploy-billing", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": BREAK_GLASS},
                                                    "Action": "sts:AssumeRole"}]}))
    path = tmp_path / "credentials"
    path.write_text("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
                    "[billing]\n" + "".join(f"{k} = {v}\n" for k, v in credentials.items()), encoding="utf-8")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(path)}


def _roles_config(demo: Demo, accounts: dict[str, str]) -> dict[str, Any]:
    roles = [*demo.context.facts["continuity"]["deployment_roles"], OTHER_ROLE]
    return {"continuity": {"deployment_roles": roles, "accounts": accounts}}


@pytest.mark.parametrize(("case", "status", "message"), [
    ("profile named", "PASS", f"{OTHER_ROLE} exists in IAM"),
    ("no profile", "ERROR", f"the role is in account {OTHER_ACCOUNT}, the suite's credentials in account "
                            f"{ACCOUNT}: name an AWS profile for {OTHER_ACCOUNT} under continuity.accounts"),
    ("role missing", "FAIL", "does not exist in IAM"),
    ("profile of another account", "ERROR", f"continuity.accounts names profile billing for account "
                                            f"{OTHER_ACCOUNT}, but its credentials are account {ACCOUNT}"),
])
def test_deployment_role_in_another_account_is_read_through_its_profile(case: str, status: str, message: str,
                                                                         moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    environment = _other_account(demo, tmp_path, create_role=case != "role missing",
                                 profile_account=ACCOUNT if case == "profile of another account" else OTHER_ACCOUNT)
    accounts = {} if case == "no profile" else {OTHER_ACCOUNT: "billing"}
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-05,DR-CON-06",
                         overrides=_roles_config(demo, accounts), extra_environment=environment)
    result = outcome.result("DR-CON-05", OTHER_ROLE)
    assert result["status"] == status, result["message"]
    assert message in result["message"]
    trusted = outcome.result("DR-CON-06", OTHER_ROLE)
    assert trusted["status"] == {"PASS": "PASS", "ERROR": "ERROR", "FAIL": "FAIL"}[status], trusted["message"]
    if status == "PASS":
        assert result["evidence"]["read_through"] == "profile billing"
        assert "sts:GetCallerIdentity" in {a["action"] for a in result["actions"]}
    # The roles of the run's own account are read with its own credentials, as before.
    assert outcome.result("DR-CON-05", "deploy-network")["status"] == "PASS"


def test_an_accounts_profile_the_aws_config_lacks_is_a_usage_error(moto: DemoServer, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    demo = seed(moto.url)
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-05",
                         overrides=_roles_config(demo, {OTHER_ACCOUNT: "nobody"}))
    assert outcome.exit_code == pytest.ExitCode.USAGE_ERROR
    assert f"continuity.accounts.{OTHER_ACCOUNT}: expected a profile of the AWS shared config files, got 'nobody'" \
        in capsys.readouterr().err
