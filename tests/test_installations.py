"""Several installations in one run: one config lists them (or a folder holds their configs); every check
runs once per installation, and each installation's results stay its own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from spacelift_dr.config import load_configs
from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from spacelift_dr.errors import ConfigError
from tests.scenario import aws_environment, environment, run_checks, run_fleet

STAGE_ACCOUNT = "111111111111"
SCHEMAS = Path(__file__).resolve().parent.parent / "schema"


def _schema(name: str) -> dict[str, object]:
    return dict(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))

MINIMAL = {"installation": {"name": "prod", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
                            "discover": {"ecs_cluster": "spacelift"}}}


def _entry(name: str, **installation: object) -> dict[str, object]:
    return {"installation": {**MINIMAL["installation"], "name": name, **installation}}


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_file_lists_installations_and_defaults_apply_to_each(tmp_path: Path) -> None:
    path = _write(tmp_path / "fleet.yaml", {
        "defaults": {"policy": {"dns_max_ttl_seconds": 60}, "installation": {"backup_region": "us-east-1"}},
        "installations": [_entry("prod"), {**_entry("stage"), "policy": {"dns_max_ttl_seconds": 120}}],
    })
    prod, stage = load_configs(path)
    assert (prod.installation.name, stage.installation.name) == ("prod", "stage")
    # An entry's own value wins over the default, key by key; the rest of the section is inherited.
    assert prod.installation.backup_region == "eu-central-1"
    assert (prod.policy.dns_max_ttl_seconds, stage.policy.dns_max_ttl_seconds) == (60, 120)
    assert stage.policy.certificate_min_days_valid == 30


def test_a_folder_of_configs_is_read_in_name_order(tmp_path: Path) -> None:
    _write(tmp_path / "b-stage.yml", MINIMAL | _entry("stage"))
    _write(tmp_path / "a-prod.yaml", {"installations": [_entry("prod"), _entry("prod-us")]})
    (tmp_path / "notes.txt").write_text("not a config", encoding="utf-8")
    assert [c.installation.name for c in load_configs(tmp_path)] == ["prod", "prod-us", "stage"]


@pytest.mark.parametrize(("data", "key", "expected"), [
    ({"installations": []}, "installations", "a non-empty list"),
    ({"installations": [_entry("a"), "b"]}, "installations[1]", "a mapping with an 'installation:' section"),
    ({"installations": [_entry("a")], "policy": {}}, "policy", "no such key beside installations:"),
    ({"installations": [_entry("a")], "defaults": ["x"]}, "defaults", "a mapping of config sections"),
    ({"installations": [_entry("a"), _entry("b", primary_region="mars-1")]},
     "installations[1].installation.primary_region", "an AWS region name"),
    ({"installations": [_entry("a"), _entry("a")]}, "installation.name", "a name no other installation has"),
    ({"installations": [_entry("a", aws_profile="")]}, "installations[0].installation.aws_profile",
     "at least 1 character"),
])
def test_a_bad_list_gets_one_message_naming_file_and_key(tmp_path: Path, data: object, key: str,
                                                         expected: str) -> None:
    path = _write(tmp_path / "fleet.yaml", data)
    with pytest.raises(ConfigError) as raised:
        load_configs(path)
    message = str(raised.value)
    assert message.startswith(f"{path.resolve()}: {key}: expected "), message
    assert expected in message


def test_a_name_used_twice_across_files_names_both(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.yaml", MINIMAL)
    _write(tmp_path / "b.yaml", MINIMAL)
    with pytest.raises(ConfigError, match=f"'prod' is also in {first.resolve()}"):
        load_configs(tmp_path)


def test_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected a folder holding one or more \*\.yaml config files"):
        load_configs(tmp_path)


@pytest.fixture
def two_installations(moto: DemoServer) -> dict[str, object]:
    """``prod`` with the demo's gaps in the default account, ``stage`` DR-ready in an account of its own."""
    return {"prod": seed(moto.url, DEMO_GAPS),
            "stage": seed(moto.url, (), account=STAGE_ACCOUNT, suffix="cd34e")}


def test_each_installation_keeps_its_own_results(two_installations: dict, tmp_path: Path) -> None:
    fleet = run_fleet(two_installations, tmp_path / "fleet")
    prod, stage = fleet.per_installation["prod"], fleet.per_installation["stage"]
    assert fleet.exit_code == 1  # prod fails

    # Each file holds its own installation's results, read with its own account's credentials.
    assert {r["installation"] for r in prod.results} == {"prod"}
    assert {r["installation"] for r in stage.results} == {"stage"}
    assert prod.document["installation"]["account"] == "123456789012"
    assert stage.document["installation"]["account"] == STAGE_ACCOUNT
    assert all("ab12c" not in r["resource"] for r in stage.results)

    # prod's verdicts are exactly those of prod checked alone; stage (DR-ready) has no FAIL or ERROR.
    alone = run_checks(two_installations["prod"], tmp_path / "alone")
    assert prod.verdicts == alone.verdicts
    assert {r["status"] for r in stage.results} <= {"PASS", "N/A"}, [
        (r["id"], r["message"]) for r in stage.results if r["status"] not in {"PASS", "N/A"}]

    # The index follows its schema, sums them and points at each file; each file follows the results schema.
    jsonschema.validate(fleet.index, _schema("dr-installations.schema.json"))
    for outcome in fleet.per_installation.values():
        jsonschema.validate(outcome.document, _schema("dr-results.schema.json"))
    entries = {entry["name"]: entry for entry in fleet.index["installations"]}
    assert entries.keys() == {"prod", "stage"}
    for name, outcome in fleet.per_installation.items():
        assert entries[name]["summary"] == outcome.document["summary"]
        assert (fleet.reports / entries[name]["results_file"]).exists()
        calls = outcome.document["api_calls"]
        assert calls["total"] == calls["distinct"] > 0
    assert fleet.index["summary"]["FAIL"] == prod.document["summary"]["FAIL"] > 0

    # One HTML and one JUnit file cover both, every check's id naming its installation.
    html = (fleet.reports / "dr-report.html").read_text(encoding="utf-8")
    assert "By installation" in html
    assert "prod: not DR-ready" in html
    assert "stage: DR-ready" in html
    assert "data-dr-filter='installation'" in html
    junit = (fleet.reports / "dr-junit.xml").read_text(encoding="utf-8")
    assert "test_critical_bucket_keeps_versions[stage-states]" in junit
    assert "test_critical_bucket_keeps_versions[prod-states]" in junit
    sums = (fleet.reports / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert {line.split("  ")[1] for line in sums} == {"dr-report.html", "dr-installations.json", "dr-junit.xml",
                                                      "prod/dr-results.json", "stage/dr-results.json"}
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((fleet.reports / name).read_bytes()).hexdigest() == digest


def test_a_waiver_can_name_its_installation(two_installations: dict, tmp_path: Path) -> None:
    waivers = _write(tmp_path / "waivers.yaml", [
        {"requirement": "DR-OBJ-03", "resource": "spacelift-run-logs-*", "installation": "prod",
         "reason": "replication ships next sprint", "owner": "sre@example.com", "expires": "2099-12-31"},
        {"requirement": "DR-OBJ-03", "resource": "spacelift-run-logs-*", "installation": "stage",
         "reason": "never needed", "owner": "sre@example.com", "expires": "2099-12-31"},
    ])
    fleet = run_fleet(two_installations, tmp_path / "fleet", f"--dr-waivers={waivers}")
    assert fleet.per_installation["prod"].status("DR-OBJ-03", "run-logs") == "WAIVED"
    assert fleet.per_installation["stage"].status("DR-OBJ-03", "run-logs") == "PASS"
    stale = fleet.per_installation["stage"].document["waivers"]["stale"]
    assert [w["installation"] for w in stale] == ["stage"]


def test_installations_sharing_a_waivers_file_share_its_book(two_installations: dict, tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    folder.mkdir()
    _write(folder / "waivers.yaml", [
        {"requirement": "DR-OBJ-03", "resource": "spacelift-run-logs-*", "installation": "prod",
         "reason": "replication ships next sprint", "owner": "sre@example.com", "expires": "2099-12-31"}])
    fleet = run_fleet(two_installations, folder, defaults={"waivers": "waivers.yaml"})
    assert fleet.per_installation["prod"].status("DR-OBJ-03", "run-logs") == "WAIVED"
    # Used by prod, so stale for nobody: stage reads the same book.
    for outcome in fleet.per_installation.values():
        assert outcome.document["waivers"]["stale"] == []
        assert outcome.document["waivers"]["source"] == str(folder / "waivers.yaml")


def test_the_baseline_is_the_earlier_reports_folder(two_installations: dict, tmp_path: Path) -> None:
    first = run_fleet(two_installations, tmp_path / "first")
    again = run_fleet(two_installations, tmp_path / "again", f"--dr-baseline={first.reports}")
    for name, outcome in again.per_installation.items():
        changes = outcome.document["since_last_run"]
        assert changes["baseline"]["file"] == str(first.reports / name / "dr-results.json")
        assert changes["new_failures"] == []
        assert changes["resolved"] == []


def test_an_unknown_aws_profile_is_a_usage_error(two_installations: dict, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fleet = run_fleet(two_installations, tmp_path / "fleet")
    config = tmp_path / "fleet" / "fleet.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["installations"][1]["installation"]["aws_profile"] = "nobody"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    capsys.readouterr()
    credentials = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "fleet" / "credentials")}
    with aws_environment(two_installations["prod"].endpoint_url), environment(credentials):
        exit_code = pytest.main([f"--dr-config={config}", f"--dr-reports={tmp_path / 'r'}", "-q",
                                 "-p", "no:cacheprovider"])
    assert exit_code == pytest.ExitCode.USAGE_ERROR
    assert "installation stage: aws_profile: expected a profile of the AWS shared config files, got 'nobody'" in \
        capsys.readouterr().err
    assert fleet.exit_code == 1


def _seed_two(moto: DemoServer) -> dict[str, object]:
    moto.reset()
    return {"prod": seed(moto.url, DEMO_GAPS), "stage": seed(moto.url, (), account=STAGE_ACCOUNT, suffix="cd34e")}


def test_xdist_workers_each_take_whole_installations(moto: DemoServer, tmp_path: Path) -> None:
    # Workers are fresh processes: the demo's replays of moto's gaps (a test-only plugin) are not in them,
    # so both runs go without. moto's answers then depend on what was read before (a described replica
    # turns its primary into a REPLICA), so each run gets a freshly seeded server.
    alone = run_fleet(_seed_two(moto), tmp_path / "one-process", replay_seeded=False)
    spread = run_fleet(_seed_two(moto), tmp_path / "two-workers", "-n", "2", replay_seeded=False)
    assert spread.exit_code == alone.exit_code == 1
    for name in ("prod", "stage"):
        one, two = alone.per_installation[name].document, spread.per_installation[name].document
        assert sorted((r["id"], r["status"]) for r in one["results"]) == \
            sorted((r["id"], r["status"]) for r in two["results"])
        # Only discovery (at every worker's collection) and the caller identity are read again.
        repeated = {action for action, count in two["api_calls"]["by_action"].items()
                    if count != one["api_calls"]["by_action"].get(action)}
        assert repeated <= {"sts:GetCallerIdentity", "ecs:DescribeServices", "ecs:DescribeTaskDefinition"}
        assert two["api_calls"]["distinct"] == one["api_calls"]["distinct"]
        assert two["prefetch"]["thunks"] == one["prefetch"]["thunks"] > 0
    assert (spread.reports / "dr-report.html").exists()
    assert spread.index["summary"] == alone.index["summary"]
