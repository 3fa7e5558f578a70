"""Hostile input files and options end in one message (a usage error, exit 4), quickly and in little
memory, never in an INTERNALERROR or a crash at the end of the run: impossible dates, integers past
Python's digit limit, alias bombs, deep nesting, NUL characters, oversized files, baselines of another
schema, installations named like output files, empty or unwritable option values."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.compare import load_baseline, since_last_run
from spacelift_dr.config import MAX_YAML_BYTES, MAX_YAML_DEPTH, load_configs
from spacelift_dr.errors import ConfigError
from spacelift_dr.waivers import load_waivers
from tests.scenario import CHECKS, ROOT

INSTALLATION = ("installation:\n  name: prod\n  primary_region: eu-west-1\n  backup_region: eu-central-1\n"
                "  discover: {ecs_cluster: spacelift}\n")
WAIVER = ("- requirement: DR-OBJ-03\n  resource: '*'\n  reason: accepted\n  owner: sre\n  expires: {expires}\n")


def _laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\ninstallation: *a{levels - 1}\n"


def _doubling(mapping: bool = False) -> str:
    """Two aliases per level: 60 aliases, 2**30 paths through the data."""
    lines = ["a0: &a0 {x: 1}" if mapping else 'a0: &a0 ["lol"]']
    for level in range(1, 31):
        lines.append(f"a{level}: &a{level} " + (f"{{x: *a{level - 1}, y: *a{level - 1}}}" if mapping
                                                  else f"[*a{level - 1}, *a{level - 1}]"))
    return "\n".join(lines) + "\n"


CONFIGS = {
    "impossible date": INSTALLATION + "  settings: {SERVER_DOMAIN: 2026-02-30}\npolicy: {rsa_min_bits: 2026-02-30}\n",
    "integer past the digit limit": INSTALLATION + "policy: {rsa_min_bits: " + "9" * 5000 + "}\n",
    "alias bomb": _laughs(),
    "doubling aliases, 30 deep": _doubling() + INSTALLATION + "hosts: *a30\n",
    "doubling mappings merged with themselves": _doubling(mapping=True)
    + "defaults: {policy: *a30}\ninstallations:\n- " + INSTALLATION.replace("\n  ", "\n    ").rstrip()
    + "\n  policy: *a30\n",
    "nesting 1,000 deep": INSTALLATION + "hosts: " + "[" * 1000 + "]" * 1000 + "\n",
    "NUL in a path": INSTALLATION + 'waivers: "waivers\\0.yaml"\n',
    "NUL in a Terraform folder": INSTALLATION + 'continuity: {terraform_dirs: ["code\\0"]}\n',
    "named like the HTML report": INSTALLATION.replace("name: prod", "name: dr-report.html"),
    "named like the manifest": INSTALLATION.replace("name: prod", "name: SHA256SUMS"),
    "explicit timestamp tag": INSTALLATION + "policy: {rsa_min_bits: !!timestamp 2026-02-30}\n",
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_a_hostile_config_is_one_config_error_quickly(case: str, tmp_path: Path) -> None:
    path = tmp_path / "dr.yaml"
    path.write_text(CONFIGS[case], encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        load_configs(path)
    assert time.monotonic() - started < 5
    message = str(refused.value)
    assert message.startswith(str(path))
    assert "expected" in message
    assert len(message) < 2000


def test_an_oversized_config_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "dr.yaml"
    path.write_text(INSTALLATION + "#" + "x" * MAX_YAML_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="at most 4 MB"):
        load_configs(path)


@given(depth=st.integers(1, 3 * MAX_YAML_DEPTH), flow=st.booleans())
def test_nesting_is_parsed_or_refused_never_a_crash(tmp_path_factory: pytest.TempPathFactory, depth: int,
                                                    flow: bool) -> None:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    text = INSTALLATION + "hosts: " + (json.dumps(value) if flow else "\n" + yaml.safe_dump(value)) + "\n"
    path = tmp_path_factory.mktemp("nest") / "dr.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):  # hosts are strings: any depth is refused, as a message
        load_configs(path)


@pytest.mark.parametrize(("expires", "accepted"), [("2026-02-30", False), ("'2026-02-30'", False),
                                                   ("2099-12-31", True), ("2024-02-29", True),
                                                   ("2025-02-29", False), ("9" * 5000, False)])
def test_waiver_dates_are_real_dates(expires: str, accepted: bool, tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVER.format(expires=expires), encoding="utf-8")
    if accepted:
        assert load_waivers(path)[0].expires.isoformat() == expires
    else:
        with pytest.raises(ConfigError, match=r"expires|digit"):
            load_waivers(path)


def test_deeply_nested_waivers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("[" * 20_000 + "]" * 20_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="nesting"):
        load_waivers(path)


# -- baselines ---------------------------------------------------------------------------------------

BASELINES = {
    "nesting 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "installation is text": json.dumps({"results": [], "installation": "prod"}),
    "started_at is a number": json.dumps({"results": [], "started_at": 5}),
    "result without status": json.dumps({"results": [{"id": "x"}]}),
    "a list": json.dumps([{"id": "x", "status": "PASS"}]),
    "integer past the digit limit": '{"results": [], "started_at": ' + "9" * 5000 + "}",
}


@pytest.mark.parametrize("case", sorted(BASELINES))
def test_a_baseline_of_another_schema_stops_the_run_at_its_start(case: str, tmp_path: Path) -> None:
    path = tmp_path / "dr-results.json"
    path.write_text(BASELINES[case], encoding="utf-8")
    with pytest.raises(ConfigError):
        load_baseline(path)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["results", "id", "status", "installation", "name",
                                                        "started_at"]), inner, max_size=4), max_leaves=10)


@given(document=_JSON)
def test_any_accepted_baseline_can_be_compared(tmp_path_factory: pytest.TempPathFactory, document: Any) -> None:
    """The class: whatever load_baseline accepts, the comparison at the end of the run can use."""
    path = tmp_path_factory.mktemp("baseline") / "dr-results.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        baseline = load_baseline(path)
    except ConfigError:
        return
    changes = since_last_run(baseline, [{"id": "DR-OBJ-03:x", "status": "FAIL"}], str(path))
    assert changes["baseline"]["file"] == str(path)
    json.dumps(changes)


# -- options -----------------------------------------------------------------------------------------


def _usage(tmp_path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    config = tmp_path / "dr.yaml"
    config.write_text(INSTALLATION, encoding="utf-8")
    code = pytest.main([str(CHECKS), f"--dr-config={config}", "-q", "-p", "no:cacheprovider", "--rootdir",
                        str(ROOT), "-c", str(ROOT / "pytest.ini"), *options])
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text
    assert "INTERNALERROR" not in text
    return text


@pytest.mark.parametrize(("options", "expected"), [
    (("--dr-reports=",), "--dr-reports: expected a path"),
    (("--dr-requirement", ",,,"), "--dr-requirement: expected one or more requirement IDs"),
    (("--dr-baseline=old\x00.json",), "--dr-baseline: expected a path without NUL"),
    (("--dr-waivers=w\x00.yaml",), "--dr-waivers: expected a path without NUL"),
    (("--dr-config=dr\x00.yaml",), "--dr-config: expected a path without NUL"),
])
def test_empty_or_nul_option_values_are_usage_errors(options: tuple[str, ...], expected: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in _usage(tmp_path, capsys, f"--dr-reports={tmp_path / 'reports'}", *options)


def test_an_unwritable_reports_folder_is_found_at_the_start(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    text = _usage(tmp_path, capsys, f"--dr-reports={blocker / 'reports'}")
    assert "expected a writable folder" in text
