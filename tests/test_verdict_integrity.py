"""Nothing green that was not observed: a run that evaluated nothing writes no report, and every output
of a run that did tells the same story."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from fixtures.evidence import shortened
from spacelift_dr.compare import since_last_run
from spacelift_dr.config import parse_config
from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.errors import ConfigError
from spacelift_dr.pytest_plugin.command import pytest_arguments
from spacelift_dr.settings import READ_BY, unknown_setting
from tests.scenario import Hook, aws_environment, denied, environment, run_checks, write_config


def _calls(counter: list[str]) -> list[Hook]:
    """A hook that notes every AWS call before it is sent."""

    def note(model: Any, **_: Any) -> None:
        counter.append(model.name)

    return [("before-parameter-build", note)]


def _last_report(reports: Path) -> dict[str, bytes]:
    reports.mkdir(parents=True)
    files = {"dr-report.html": b"<html>last real report</html>", "dr-results.json": b'{"last": true}',
             "dr-junit.xml": b"<testsuites/>", "SHA256SUMS": b"digests\n"}
    for name, content in files.items():
        (reports / name).write_bytes(content)
    return files


def _untouched(reports: Path, before: dict[str, bytes]) -> None:
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before


@pytest.mark.parametrize("args", [("--collect-only",), ("-k", "DR-OBJ-99")], ids=["collect-only", "nothing-selected"])
def test_a_run_that_evaluates_nothing_leaves_the_last_report_alone(moto: DemoServer, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   args: tuple[str, ...]) -> None:
    before = _last_report(tmp_path / "reports")
    calls: list[str] = []
    outcome = run_checks(seed(moto.url), tmp_path, *args, capsys=capsys, hooks=_calls(calls))
    _untouched(outcome.reports, before)
    assert "no report written" in outcome.output
    assert outcome.exit_code in (0, 5)
    # Only what listing the checks needs (who we are, which services run); no check's reads.
    assert set(calls) <= {"GetCallerIdentity", "ListClusters", "ListServices", "DescribeServices",
                          "DescribeTaskDefinition"}, calls


@pytest.mark.parametrize(("args", "said"), [
    (("--dr-requirement", "dr-obj-3"), "did you mean DR-OBJ-03?"),
    (("-m", "encrypton"), "did you mean encryption?"),
    (("-m", "stateful and not encrypton"), "did you mean encryption?"),
], ids=["requirement", "marker", "marker-in-expression"])
def test_a_usage_error_is_found_before_the_first_aws_call(moto: DemoServer, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          args: tuple[str, ...], said: str) -> None:
    before = _last_report(tmp_path / "reports")
    calls: list[str] = []
    outcome = run_checks(seed(moto.url), tmp_path, *args, hooks=_calls(calls))
    assert outcome.exit_code == 4
    assert said in capsys.readouterr().err
    assert calls == []
    _untouched(outcome.reports, before)


def test_a_run_interrupted_before_the_first_verdict_writes_no_report(moto: DemoServer, tmp_path: Path) -> None:
    before = _last_report(tmp_path / "reports")

    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    outcome = run_checks(seed(moto.url), tmp_path, hooks=[("before-call.ecs.DescribeServices", interrupt)])
    assert outcome.exit_code == 2
    _untouched(outcome.reports, before)


def test_the_html_and_the_json_show_the_same_call_counts(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateful")
    calls = outcome.document["api_calls"]
    html = (outcome.reports / "dr-report.html").read_text(encoding="utf-8")
    shown = re.search(r"(\d+) sent, (\d+) distinct, (\d+) cached", html)
    assert shown is not None
    assert tuple(int(n) for n in shown.groups()) == (calls["total"], calls["distinct"], calls["cache_hits"])


# -- every PASS rests on an observation, whatever was selected ---------------------------------------


def _actions(result: dict[str, Any]) -> set[str]:
    return {f"{a['action']} {a['resource']}" for a in result["actions"]}


def test_evidence_names_the_reads_a_verdict_rests_on_whichever_check_read_first(
        moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    full = run_checks(demo, tmp_path / "full")
    alone = {requirement: run_checks(demo, tmp_path / requirement, "--dr-requirement", requirement)
             for requirement in ("DR-DB-03", "DR-CON-06", "DR-KMS-04")}
    for outcome in alone.values():
        for result in outcome.results:
            in_full = next(r for r in full.results if r["id"] == result["id"])
            assert _actions(in_full) == _actions(result), result["id"]
    for requirement, action in (("DR-DB-02", "rds:DescribeDBClusters"), ("DR-DB-03", "rds:DescribeDBClusters"),
                                ("DR-DB-05", "rds:DescribeDBClusters"), ("DR-CON-06", "iam:GetRole"),
                                ("DR-CON-01", "file:read")):
        for result in (r for r in full.results if r["requirement"] == requirement and r["status"] == "PASS"):
            assert action in {a["action"] for a in result["actions"]}, result["id"]
    con_01 = [r for r in full.results if r["requirement"] == "DR-CON-01" and r["status"] == "PASS"]
    assert con_01
    for result in con_01:
        assert any(a["resource"].endswith((".tf", ".tf.json")) for a in result["actions"]), result["id"]
    for result in full.results:
        if result["status"] == "PASS":
            assert result["actions"], f"{result['id']} PASSes on nothing read"


def test_evidence_says_where_each_setting_came_from(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    outcome = run_checks(demo, tmp_path, "-m", "encryption or broker or stateful",
                         overrides={"installation": {"settings": {"SERVER_DOMAIN": "spacelift.demo-corp.example"}}})
    def sources(result: dict[str, Any]) -> dict[str, str]:
        return {entry["setting"]: entry["source"] for entry in result["evidence"]["setting_sources"]}

    assert sources(outcome.result("DR-KMS-01"))["ENCRYPTION_TYPE (server)"].startswith("task definition arn:aws:ecs:")
    assert sources(outcome.result("DR-BRK-02", "SERVER_DOMAIN"))["SERVER_DOMAIN"] == \
        "declared in the config (installation.settings)"
    assert sources(outcome.result("DR-DB-02"))["DATABASE_URL"].startswith("task definition arn:aws:ecs:")


def test_with_aws_unreachable_a_settings_only_config_passes_nothing_as_if_observed(
        moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    settings = {k: v for k, v in demo.context.environment.items()}
    unreachable = type(demo)(endpoint_url="http://127.0.0.1:9", context=demo.context)
    with environment({"AWS_MAX_ATTEMPTS": "1"}):
        outcome = run_checks(unreachable, tmp_path, replay_seeded=False,
                             overrides={"installation": {"discover": {}, "settings": settings, "account_id": None}})
    assert outcome.results
    assert {r["status"] for r in outcome.results if r["requirement"] in ("DR-SVC-01", "DR-KMS-01", "DR-BRK-01")} \
        == {"N/A"}
    for result in outcome.results:
        if result["status"] == "PASS" and not result["actions"]:
            assert "as declared in the config" in result["message"], result["id"]


# -- pytest behaves like pytest ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("question", ["--markers", "--help", "--fixtures"])
def test_questions_to_pytest_need_no_config(question: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", question, "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    if question == "--markers":
        assert "@pytest.mark.encryption" in done.stdout


def test_the_command_takes_options_with_a_space_and_files_anywhere(tmp_path: Path) -> None:
    arguments = pytest_arguments(["--config", "etc/prod.yaml", "-m", "encryption", "--requirement", "DR-KMS-01",
                                  "--baseline", "/old/dr-results.json", "-x"], tmp_path)
    assert f"--dr-config={tmp_path / 'etc' / 'prod.yaml'}" in arguments
    assert "--dr-requirement=DR-KMS-01" in arguments
    assert "--dr-baseline=/old/dr-results.json" in arguments
    assert f"--dr-reports={tmp_path / 'reports'}" in arguments
    assert arguments[-3:] == ["-m", "encryption", "-x"]
    assert str(ROOT / "pytest.ini") in arguments


def test_installing_the_suite_puts_no_top_level_fixtures_package(tmp_path: Path) -> None:
    # Outside the repository only what was installed can be imported: the plugin under the suite's own name,
    # and no "fixtures" (a package of that name exists on PyPI; the two would clash).
    probe = ("import importlib.util as u, json; print(json.dumps([u.find_spec('fixtures') is None, "
             "u.find_spec('spacelift_dr.pytest_plugin') is not None]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert json.loads(done.stdout) == [True, True], done.stderr
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(target.startswith("fixtures") for group in (entry_points["scripts"],
                                                               entry_points["entry-points"]["pytest11"])
                   for target in group.values())


def test_the_command_runs_the_suite_from_any_folder(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    config = write_config(demo, tmp_path / "etc" / "dr")
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    with aws_environment(demo.endpoint_url):
        done = subprocess.run([str(BIN / "spacelift-dr"), "--config", str(config), "--requirement", "DR-OBJ-02",
                               "-p", "no:randomly"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    results = json.loads((elsewhere / "reports" / "dr-results.json").read_text(encoding="utf-8"))
    assert {r["requirement"] for r in results["results"]} == {"DR-OBJ-02"}


def test_plain_pytest_with_a_file_elsewhere_is_a_usage_error_that_names_the_command(tmp_path: Path) -> None:
    config = tmp_path / "prod.yaml"
    config.write_text("installation: {name: x}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "--dr-config", str(config), "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 4
    assert "spacelift-dr --config" in done.stdout + done.stderr


# -- fail fast and say it once -----------------------------------------------------------------------


def test_a_dead_endpoint_is_found_once_and_said_once(moto: DemoServer, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    demo = seed(moto.url)
    dead = type(demo)(endpoint_url="http://127.0.0.1:9", context=demo.context)
    # No installation.account_id: with one, the unverifiable caller identity stops the run (exit 4, issue 14).
    outcome = run_checks(dead, tmp_path, replay_seeded=False, capsys=capsys,
                         overrides={"installation": {"account_id": None}})
    errors = [r for r in outcome.results if r["status"] == "ERROR"]
    assert len(errors) > 20
    assert outcome.document["api_calls"]["total"] == 1  # the preflight; every later read stopped at the breaker
    assert len({r["message"] for r in errors}) == 1
    assert "127.0.0.1:9: unreachable" in errors[0]["message"]
    assert f"{len(errors)} results ERROR: endpoint 127.0.0.1:9: unreachable" in outcome.output


def test_refused_credentials_are_found_once(moto: DemoServer, tmp_path: Path) -> None:
    sent: list[str] = []
    refused = denied("GetCallerIdentity", "sts", code="InvalidClientTokenId")
    outcome = run_checks(seed(moto.url), tmp_path, hooks=[*_calls(sent), *refused],
                         overrides={"installation": {"account_id": None}})
    assert sent == ["GetCallerIdentity"]
    errors = [r for r in outcome.results if r["status"] == "ERROR"]
    assert errors
    assert {r["message"] for r in errors} == {
        "the AWS credentials: refused (InvalidClientTokenId: Access Denied) (first seen on sts:GetCallerIdentity "
        "caller; no later read to it was attempted)"}


def test_declared_settings_serve_the_checks_that_need_only_them_when_discovery_fails(
        moto: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = seed(moto.url)
    buckets = {name: value for name, value in demo.context.environment.items()
               if name.startswith("OBJECT_STORAGE_BUCKET_")}
    outcome = run_checks(demo, tmp_path, "-m", "stateful or stateless", capsys=capsys, overrides={
        "installation": {"discover": {"ecs_cluster": "spacelift-gone"}, "settings": buckets}})
    assert outcome.status("DR-OBJ-02", "states") == "PASS"
    assert outcome.status("DR-OBJ-03", "states") == "PASS"
    svc_01 = outcome.result("DR-SVC-01", "server")
    assert svc_01["status"] == "ERROR"
    assert "ecs:DescribeServices" in svc_01["message"]
    assert "spacelift-gone" in svc_01["message"]
    stopped = [r for r in outcome.results if r["message"] == svc_01["message"]]
    assert f"{len(stopped)} results ERROR: ecs:DescribeServices" in outcome.output


def test_the_summary_never_cuts_a_word() -> None:
    text = "s3:GetBucketReplication denied on spacelift-states-ab12c (AccessDenied: " + "word " * 40
    line = shortened(text, 120)
    assert len(line) <= 120
    assert line.endswith("…")
    assert text.startswith(line[:-1])
    assert text[len(line) - 1] == " "


# -- inputs validated against reality ----------------------------------------------------------------


@pytest.mark.parametrize(("section", "said"), [
    ({"primary_region": "eu-centrl-1"}, "installation.primary_region: expected a region AWS knows"),
    ({"backup_region": "cn-north-1"}, "installation.backup_region: expected a region of primary_region's partition"),
    ({"settings": {"OBJECT_STORAGE_BUCKET_STATE": "spacelift-states"}},
     "installation.settings.OBJECT_STORAGE_BUCKET_STATE: expected a Spacelift setting the suite knows "
     "(did you mean OBJECT_STORAGE_BUCKET_STATES?)"),
], ids=["misspelt-region", "other-partition", "misspelt-setting"])
def test_inputs_are_checked_against_what_exists(section: dict[str, Any], said: str) -> None:
    base = {"name": "prod", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
            "discover": {"ecs_cluster": "spacelift"}}
    with pytest.raises(ConfigError) as raised:
        parse_config({"installation": {**base, **section}}, "prod.yaml")
    assert said in str(raised.value)
    if "region" in said and "partition" not in said:
        assert "did you mean eu-central-1?" in str(raised.value)


def test_every_setting_the_demo_declares_is_known(moto: DemoServer) -> None:
    demo = seed(moto.url)
    for name in {**demo.context.environment, **demo.context.secrets}:
        assert unknown_setting(name) is None, name


def test_a_baseline_of_another_installation_or_account_is_refused(moto: DemoServer, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    demo = seed(moto.url)
    for field, value, said in (("name", "stage", "of another installation"),
                               ("account", "999999999999", "of another account")):
        baseline = {"installation": {"name": "demo", "account": demo.context.account, field: value},
                    "results": [], "started_at": "2026-01-01T00:00:00Z"}
        path = tmp_path / f"{field}.json"
        path.write_text(json.dumps(baseline), encoding="utf-8")
        outcome = run_checks(demo, tmp_path / field, "--dr-baseline", str(path), "-m", "stateless")
        assert outcome.exit_code == 4
        captured = capsys.readouterr()
        assert said in captured.out + captured.err


def test_a_failure_that_stopped_applying_is_not_resolved() -> None:
    before = {"results": [{"id": "DR-RSA-01:ENCRYPTION_RSA_PRIVATE_KEY", "status": "FAIL"},
                          {"id": "DR-OBJ-02:states", "status": "FAIL"}]}
    now = [{"id": "DR-RSA-01:ENCRYPTION_RSA_PRIVATE_KEY", "status": "N/A"},
           {"id": "DR-OBJ-02:states", "status": "PASS"}]
    changes = since_last_run(before, now, "old.json")
    assert changes["resolved"] == ["DR-OBJ-02:states"]
    assert changes["no_longer_applicable"] == ["DR-RSA-01:ENCRYPTION_RSA_PRIVATE_KEY"]


# -- partial answers, partial verdicts ---------------------------------------------------------------


def test_a_kms_answer_without_key_usage_fails_only_the_checks_that_need_it(moto: DemoServer, tmp_path: Path) -> None:
    def without_key_usage(parsed: dict[str, Any], **_: Any) -> None:
        parsed.get("KeyMetadata", {}).pop("KeyUsage", None)

    outcome = run_checks(seed(moto.url), tmp_path, "-m", "encryption",
                         hooks=[("after-call.kms.DescribeKey", without_key_usage)])
    assert outcome.status("DR-KMS-04", "ENCRYPTION_KMS_ENCRYPTION_KEY_ID") == "PASS"
    assert outcome.status("DR-KMS-04", "ENCRYPTION_KMS_SIGNING_KEY_ID") == "PASS"
    assert outcome.status("DR-KMS-06", "states") == "PASS"
    kms_02 = outcome.result("DR-KMS-02")
    assert kms_02["status"] == "ERROR"
    assert "lacks KeyUsage" in kms_02["message"]


def test_messages_show_no_python_reprs(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["broker-type-unset:drain"]), tmp_path, "-m", "broker")
    brk_01 = outcome.result("DR-BRK-01")
    assert brk_01["status"] == "FAIL"
    for result in outcome.results:
        assert not re.search(r"\{'|\['|\bNone\b", result["message"]), result["message"]


# -- the first run talks -----------------------------------------------------------------------------


def test_the_demo_says_what_it_is_doing_while_it_seeds(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--dr-demo", "--collect-only", "-q",
                           "-p", "no:cacheprovider", f"--dr-reports={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo: seeding a Spacelift installation on a moto server" in done.stdout
    assert "demo: seeding storage" in done.stdout


def test_the_packaging_declares_its_license_as_builds_will_require() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(project["project"]["license"], str)  # an SPDX expression, not the deprecated table
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])


def test_junit_marks_every_dr_error_the_same_way(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateful or encryption",
                         hooks=[*denied("GetBucketReplication", "s3"), *denied("DescribeKey", "kms")])
    tree = ElementTree.parse(outcome.reports / "dr-junit.xml")
    kinds: dict[str, set[str]] = {}
    for case in tree.getroot().iter("testcase"):
        status = next(p.get("value") for p in case.iter("property") if p.get("name") == "dr_status")
        kinds.setdefault(str(status), set()).update(e.tag for e in case if e.tag in {"error", "failure"})
    assert kinds["ERROR"] == {"error"}
    assert kinds.get("FAIL", {"failure"}) == {"failure"}
    suite = next(tree.getroot().iter("testsuite"))
    assert int(suite.get("errors", "0")) == outcome.document["summary"]["ERROR"]


# -- the README's settings-only example ----------------------------------------------------------------


def test_the_readme_settings_only_example_is_valid_and_complete() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### An installation the suite cannot discover", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(yaml.safe_load(example), "README.md")
    declared = set(config.installation.settings)
    assert config.installation.discover.ecs_cluster is None
    # Everything a full run of a kms installation reads (rsa reads ENCRYPTION_RSA_PRIVATE_KEY instead).
    assert set(READ_BY) - {"ENCRYPTION_RSA_PRIVATE_KEY"} <= declared, sorted(set(READ_BY) - declared)
    for name in READ_BY:
        assert f"`{name}`" in section or name.startswith("OBJECT_STORAGE_BUCKET_"), name
