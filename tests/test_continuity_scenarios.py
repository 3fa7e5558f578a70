"""Continuity (DR-CON-01 … 08) against a seeded moto server, a fake Spacelift API and testinfra's local
backend: PASS when DR-ready, FAIL for exactly what each break breaks, ERROR when a fact is unobservable."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from spacelift_dr.demo import Demo, DemoServer, seed
from spacelift_dr.demo.continuity import STATE_BUCKET, TERRAFORM_DIR
from tests.scenario import Outcome, changed_verdicts, denied, run_checks
from tests.spacelift_api_fake import JWT, KEY_ID, KEY_SECRET, FakeSpacelift, stack
from tests.test_continuity_hosts import AWS_2, TERRAFORM_1_9, TOFU_1_8, fake_tools

NETWORK_ROLE = "arn:aws:iam::123456789012:role/spacelift-deploy-network-ab12c"
PLATFORM_ROLE = "arn:aws:iam::123456789012:role/spacelift-deploy-platform-ab12c"
BREAK_GLASS = "arn:aws:iam::123456789012:role/spacelift-break-glass-ab12c"


_READY: dict[str, tuple[Demo, str]] = {}


@pytest.fixture
def ready(moto_server: DemoServer) -> Demo:
    """The DR-ready demo for tests that only read it: seeded once, and again only after something reset
    the server (a marker bucket, gone after any reset, tells). The checks never write, so it stays intact."""
    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    if moto_server.url in _READY:
        demo, marker = _READY[moto_server.url]
        try:
            s3.head_bucket(Bucket=marker)
            return demo
        except botocore.exceptions.ClientError:
            pass
    moto_server.reset()
    demo = seed(moto_server.url)
    marker = f"dr-tests-ready-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=marker, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    _READY[moto_server.url] = (demo, marker)
    return demo


def continuity(outcome: Outcome) -> dict[str, str]:
    return {k: v for k, v in outcome.verdicts.items() if k.startswith("DR-CON")}


def test_dr_ready_installation_passes_every_continuity_requirement(dr_ready: Outcome) -> None:
    assert continuity(dr_ready) == {
        "DR-CON-01:terraform/network": "PASS",
        "DR-CON-01:terraform/platform": "PASS",
        "DR-CON-01:continuity.spacelift_api": "N/A",
        f"DR-CON-02:{STATE_BUCKET}": "PASS",
        f"DR-CON-03:{STATE_BUCKET}": "PASS",
        f"DR-CON-04:{STATE_BUCKET}": "PASS",
        f"DR-CON-05:{NETWORK_ROLE}": "PASS",
        f"DR-CON-05:{PLATFORM_ROLE}": "PASS",
        "DR-CON-05:continuity.spacelift_api": "N/A",
        f"DR-CON-06:{NETWORK_ROLE}": "PASS",
        f"DR-CON-06:{PLATFORM_ROLE}": "PASS",
        f"DR-CON-07:{BREAK_GLASS}": "PASS",
        "DR-CON-08:hosts": "N/A",
        "DR-CON-09:terraform/network": "PASS",
        "DR-CON-09:terraform/platform": "PASS",
    }
    mfa = dr_ready.result("DR-CON-04", STATE_BUCKET)
    assert mfa["evidence"]["versioning"] == {"Status": "Enabled", "MFADelete": "Enabled"}
    assert dr_ready.result("DR-CON-03", STATE_BUCKET)["region"] == "eu-west-1"


# mutation → the (requirement, resource) verdicts it must turn to FAIL; every other verdict unchanged.
BREAKS = {
    "state-versioning-suspended": {("DR-CON-02", STATE_BUCKET)},
    "state-same-region-replication": {("DR-CON-03", STATE_BUCKET)},
    "state-replication-misses-a-state": {("DR-CON-03", STATE_BUCKET)},
    "state-replication-role-missing": {("DR-CON-03", STATE_BUCKET)},
    "state-replication-per-state-prefix": set(),  # prefix rules covering every state key: still PASS
    "state-mfa-delete-off": {("DR-CON-04", STATE_BUCKET)},
    "deployment-role-missing": {("DR-CON-05", NETWORK_ROLE), ("DR-CON-06", NETWORK_ROLE)},
    "deployment-role-trusts-only-spacelift": {("DR-CON-06", PLATFORM_ROLE)},
    "break-glass-without-mfa": {("DR-CON-07", BREAK_GLASS)},
    "break-glass-without-policies": {("DR-CON-07", BREAK_GLASS)},
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    changed = changed_verdicts(dr_ready, broken)
    assert changed == {f"{req}:{resource}": "FAIL" for req, resource in BREAKS[mutation]}
    for key in changed:
        result = next(r for r in broken.results if r["id"] == key)
        assert result["message"]
        assert result["evidence"]


def test_fail_messages_say_what_was_observed(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["state-mfa-delete-off", "break-glass-without-mfa",
                                         "deployment-role-trusts-only-spacelift"]), tmp_path, "-m", "continuity")
    assert outcome.result("DR-CON-04", STATE_BUCKET)["message"] == (
        f"state bucket {STATE_BUCKET} MFADelete is not reported (never enabled), expected Enabled")
    assert "can be assumed without MFA by arn:aws:iam::123456789012:root" in \
        outcome.result("DR-CON-07")["message"]
    assert outcome.result("DR-CON-06", PLATFORM_ROLE)["message"].startswith(
        f"spacelift-deploy-platform-ab12c's trust policy does not let {BREAK_GLASS} assume it (no statement allows")


def test_mfa_delete_that_moto_does_not_report_never_passes(ready: Demo, tmp_path: Path) -> None:
    outcome = run_checks(ready, tmp_path, "-m", "continuity", replay_seeded=False)
    assert outcome.status("DR-CON-04", STATE_BUCKET) == "FAIL"
    assert outcome.status("DR-CON-02", STATE_BUCKET) == "PASS"


# Each run denies reads whose checks do not overlap, so one run shows several ERRORs.
DENIED = {
    "versioning-and-inline-policies": (
        [("GetBucketVersioning", "s3", "s3:GetBucketVersioning"), ("ListRolePolicies", "iam", "iam:ListRolePolicies")],
        {("DR-CON-02", STATE_BUCKET): "s3:GetBucketVersioning", ("DR-CON-04", STATE_BUCKET): "s3:GetBucketVersioning",
         ("DR-CON-07", BREAK_GLASS): "iam:ListRolePolicies"}),
    "replication-and-attached-policies": (
        [("GetBucketReplication", "s3", "s3:GetReplicationConfiguration"),
         ("ListAttachedRolePolicies", "iam", "iam:ListAttachedRolePolicies")],
        {("DR-CON-03", STATE_BUCKET): "s3:GetReplicationConfiguration",
         ("DR-CON-07", BREAK_GLASS): "iam:ListAttachedRolePolicies"}),
    "roles": (
        [("GetRole", "iam", "iam:GetRole")],
        {(r, role): "iam:GetRole" for r in ("DR-CON-05", "DR-CON-06") for role in (NETWORK_ROLE, PLATFORM_ROLE)}
        | {("DR-CON-07", BREAK_GLASS): "iam:GetRole", ("DR-CON-03", STATE_BUCKET): "iam:GetRole"}),
}


def test_mfa_delete_disabled_as_real_s3_reports_it_fails(ready: Demo, tmp_path: Path) -> None:
    def disabled(parsed: dict[str, Any], **_: Any) -> None:
        parsed["MFADelete"] = "Disabled"

    outcome = run_checks(ready, tmp_path, "--dr-requirement", "DR-CON-04",
                         hooks=[("after-call.s3.GetBucketVersioning", disabled)])
    result = outcome.result("DR-CON-04", STATE_BUCKET)
    assert result["status"] == "FAIL"
    assert result["message"] == f"state bucket {STATE_BUCKET} MFADelete is Disabled, expected Enabled"


@pytest.mark.parametrize("case", sorted(DENIED))
def test_a_denied_read_is_an_error_naming_the_action(case: str, dr_ready: Outcome, ready: Demo,
                                                     tmp_path: Path) -> None:
    reads, errors = DENIED[case]
    hooks = [hook for operation, service, _ in reads for hook in denied(operation, service)]
    outcome = run_checks(ready, tmp_path, "-m", "continuity", hooks=hooks)
    changed = {k: v for k, v in continuity(outcome).items() if dr_ready.verdicts[k] != v}
    assert changed == {f"{req}:{resource}": "ERROR" for req, resource in errors}
    for (req, resource), action in errors.items():
        assert outcome.result(req, resource)["message"].startswith(f"{action} denied on ")


# -- the Terraform code -------------------------------------------------------------------------------


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A copy of the demo's code tree, under the same name, that a test adds modules to."""
    target = tmp_path / "code" / "terraform"
    shutil.copytree(TERRAFORM_DIR, target)
    return target


def with_module(code: Path, name: str, text: str, file: str = "main.tf") -> dict[str, Any]:
    (code / name).mkdir()
    (code / name / file).write_text(text, encoding="utf-8")
    return {"continuity": {"terraform_dirs": [str(code)]}}


LEGACY = {
    "local": ('terraform {\n  backend "local" {}\n}\nprovider "aws" {}\n', 'uses backend "local"'),
    "none": ('provider "aws" {}\nresource "aws_sns_topic" "t" {}\n', "declares no backend"),
    "spacelift": ('terraform {\n  backend "http" {\n    address = "https://acme.app.spacelift.io/state/x"\n  }\n}\n',
                  "uses Spacelift's state backend"),
}


def test_a_root_module_without_external_state_fails(code: Path, dr_ready: Outcome, ready: Demo,
                                                    tmp_path: Path) -> None:
    for name, (text, _) in LEGACY.items():
        overrides = with_module(code, name, text)
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=overrides)
    assert continuity(outcome) == {**continuity(dr_ready), **{f"DR-CON-01:terraform/{n}": "FAIL" for n in LEGACY}}
    for name, (_, message) in LEGACY.items():
        assert message in outcome.result("DR-CON-01", f"terraform/{name}")["message"]


def test_a_file_that_does_not_parse_is_an_error_wherever_it_matters(code: Path, dr_ready: Outcome,
                                                                   ready: Demo, tmp_path: Path) -> None:
    text = 'terraform {\n  backend "s3" {\n    bucket = \n  }\n}\n'
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=with_module(code, "broken", text))
    broken = str(code / "broken" / "main.tf")
    new = {k: v for k, v in continuity(outcome).items() if k not in dr_ready.verdicts}
    assert new == {"DR-CON-01:terraform/broken": "ERROR", **{f"DR-CON-0{n}:{broken}": "ERROR" for n in (2, 3, 4, 9)}}
    assert outcome.result("DR-CON-01", "terraform/broken")["message"].startswith(f"could not parse {broken}, line 3:")
    assert all(continuity(dr_ready)[k] == v for k, v in continuity(outcome).items() if k in dr_ready.verdicts)


def test_configured_state_buckets_are_checked_too(ready: Demo, tmp_path: Path) -> None:
    outcome = run_checks(ready, tmp_path, "-m", "continuity",
                         overrides={"continuity": {"state_buckets": ["acme-missing-state"]}})
    for requirement in ("DR-CON-02", "DR-CON-03", "DR-CON-04"):
        result = outcome.result(requirement, "acme-missing-state")
        assert result["status"] == "FAIL"
        assert result["message"] == "state bucket acme-missing-state does not exist (GetBucketLocation: NoSuchBucket)"
        assert outcome.status(requirement, STATE_BUCKET) == "PASS"


def test_no_code_and_no_lists_is_not_applicable(ready: Demo, tmp_path: Path) -> None:
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides={"continuity": {
        "terraform_dirs": [], "deployment_roles": [], "break_glass_principals": [], "break_glass_role": None}})
    assert set(continuity(outcome).values()) == {"N/A"}
    assert outcome.result("DR-CON-02")["message"].startswith("no backend \"s3\" bucket in continuity.terraform_dirs")


# -- the Spacelift API --------------------------------------------------------------------------------


@pytest.fixture
def spacelift(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSpacelift]:
    monkeypatch.setenv("DR_TEST_SPACELIFT_KEY_ID", KEY_ID)
    monkeypatch.setenv("DR_TEST_SPACELIFT_KEY_SECRET", KEY_SECRET)
    server = FakeSpacelift(
        stacks=[stack("network", integrations=("int-network",)), stack("platform", integrations=("int-platform",)),
                stack("dns", legacy_role=PLATFORM_ROLE)],
        integrations=[{"id": "int-network", "name": "network", "roleArn": NETWORK_ROLE},
                      {"id": "int-platform", "name": "platform", "roleArn": PLATFORM_ROLE}]).start()
    yield server
    server.stop()


def api_config(fake: FakeSpacelift) -> dict[str, Any]:
    return {"continuity": {"spacelift_api": {"endpoint": fake.url, "key_id_env": "DR_TEST_SPACELIFT_KEY_ID",
                                             "key_secret_env": "DR_TEST_SPACELIFT_KEY_SECRET"}}}


def api_verdicts(outcome: Outcome, fake: FakeSpacelift) -> dict[str, str]:
    return {r["requirement"]: r["status"] for r in outcome.results if r["resource"] == f"spacelift:{fake.url}"}


def no_secret_in_reports(outcome: Outcome) -> None:
    for path in outcome.reports.iterdir():
        text = path.read_text(encoding="utf-8")
        assert KEY_SECRET not in text, path.name
        assert JWT not in text, path.name


def test_sound_stacks_pass(spacelift: FakeSpacelift, ready: Demo, tmp_path: Path) -> None:
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=api_config(spacelift))
    assert api_verdicts(outcome, spacelift) == {"DR-CON-01": "PASS", "DR-CON-05": "PASS"}
    assert spacelift.operations().count("apiKeyUser") == 1  # one token, every read once per run
    assert spacelift.operations().count("searchStacks") == 2  # two pages of two
    no_secret_in_reports(outcome)


def test_a_spacelift_managed_stack_fails_state(spacelift: FakeSpacelift, ready: Demo, tmp_path: Path) -> None:
    spacelift.stacks.append(stack("legacy-state", manages_state=True))
    spacelift.stacks.append(stack("tg", terragrunt_state=True))
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=api_config(spacelift))
    assert api_verdicts(outcome, spacelift) == {"DR-CON-01": "FAIL", "DR-CON-05": "PASS"}
    assert "2 of 5 stacks keep their state in Spacelift (legacy-state, tg)" in \
        outcome.result("DR-CON-01", "spacelift:")["message"]


def test_a_stack_role_missing_from_the_inventory_fails(spacelift: FakeSpacelift, ready: Demo,
                                                      tmp_path: Path) -> None:
    spacelift.stacks.append(stack("audit", legacy_role="arn:aws:iam::123456789012:role/audit-deployer"))
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=api_config(spacelift))
    assert api_verdicts(outcome, spacelift) == {"DR-CON-01": "PASS", "DR-CON-05": "FAIL"}
    assert outcome.result("DR-CON-05", "spacelift:")["message"] == (
        "arn:aws:iam::123456789012:role/audit-deployer (used by audit) is not in continuity.deployment_roles")


# Expired tokens and GraphQL errors are shown on the client itself (test_continuity_spacelift_api.py).
@pytest.mark.parametrize(("mode", "secret", "operation"), [
    ("ok", "wrong-secret-value-0123", "spacelift:apiKeyUser"),
    ("5xx", KEY_SECRET, "spacelift:searchStacks"),
], ids=["invalid-key", "5xx"])
def test_api_failures_are_errors(mode: str, secret: str, operation: str, spacelift: FakeSpacelift,
                                 ready: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_TEST_SPACELIFT_KEY_SECRET", secret)
    spacelift.mode = mode
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=api_config(spacelift))
    assert api_verdicts(outcome, spacelift) == {"DR-CON-01": "ERROR", "DR-CON-05": "ERROR"}
    assert outcome.result("DR-CON-01", "spacelift:")["message"].startswith(f"{operation} failed on {spacelift.url}")
    no_secret_in_reports(outcome)
    assert secret not in "".join(p.read_text(encoding="utf-8") for p in outcome.reports.iterdir())


# -- the break-glass workstation ----------------------------------------------------------------------


@pytest.mark.parametrize(("tools", "status", "message"), [
    ({"terraform": TERRAFORM_1_9, "aws": AWS_2}, "PASS", "terraform 1.9.5 satisfies 3 required_version"),
    ({"tofu": TOFU_1_8, "aws": AWS_2}, "PASS", "tofu 1.8.3 satisfies"),
    ({"terraform": "Terraform v1.4.6", "aws": AWS_2}, "FAIL",
     "terraform 1.4.6 on local:// does not satisfy required_version >= 1.5.0, < 2.0.0; ~> 1.6"),
    ({"terraform": "Terraform v2.0.1", "aws": AWS_2}, "FAIL", "does not satisfy required_version"),
    ({"aws": AWS_2}, "FAIL", "neither terraform nor tofu is installed on local://"),
    ({"terraform": TERRAFORM_1_9}, "FAIL", "the aws CLI is not installed on local://"),
])
def test_workstation_tools(tools: dict[str, str], status: str, message: str, ready: Demo, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    demo = ready
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", tools)))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-CON-08", overrides={"hosts": ["local://"]})
    result = outcome.result("DR-CON-08", "local://")
    assert result["status"] == status
    assert message in result["message"]


def test_an_unreachable_workstation_is_an_error(ready: Demo, tmp_path: Path) -> None:
    outcome = run_checks(ready, tmp_path, "--dr-requirement", "DR-CON-08",
                         overrides={"hosts": ["ssh://dr-suite@127.0.0.1:1"]})
    result = outcome.result("DR-CON-08")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("host:connect failed on ssh://dr-suite@127.0.0.1:1: unreachable")


def test_an_unusable_required_version_makes_the_tools_unjudgeable(code: Path, ready: Demo, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = with_module(code, "odd", 'terraform {\n  required_version = "latest"\n}\nprovider "aws" {}\n')
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", {"terraform": TERRAFORM_1_9, "aws": AWS_2})))
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides={**overrides, "hosts": ["local://"]})
    result = outcome.result("DR-CON-08", "local://")
    assert result["status"] == "ERROR"
    assert result["message"].startswith(f"{code / 'odd' / 'main.tf'}: required_version: ")
    assert outcome.status("DR-CON-01", "terraform/odd") == "FAIL"  # still judged: it declares no backend


def test_an_api_key_that_sees_no_stack_judges_nothing(spacelift: FakeSpacelift, ready: Demo, tmp_path: Path) -> None:
    spacelift.stacks.clear()  # none exist, or the key's spaces hide them: no PASS over nothing
    outcome = run_checks(ready, tmp_path, "-m", "continuity", overrides=api_config(spacelift))
    assert api_verdicts(outcome, spacelift) == {"DR-CON-01": "ERROR", "DR-CON-05": "ERROR"}
    assert "sees no stack" in outcome.result("DR-CON-01", "spacelift:")["message"]
