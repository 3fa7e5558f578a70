"""The demo run as a user starts it (``pytest --dr-demo``, what ``make demo`` runs): its three outputs,
their structure, self-containment and secrecy, and the selection options."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from spacelift_dr.demo import DEMO_SECRETS, DemoServer, seed
from tests.scenario import run_checks

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schema" / "dr-results.schema.json").read_text(encoding="utf-8"))


@dataclass
class DemoRun:
    returncode: int
    output: str
    reports: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    reports = tmp_path_factory.mktemp("demo") / "reports"
    done = subprocess.run([sys.executable, "-m", "pytest", "--dr-demo", "--dr-reports", str(reports), "-q",
                           "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return DemoRun(done.returncode, done.stdout + done.stderr, reports)


def test_demo_completes_with_findings_and_a_summary(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 1, demo_run.output[-2000:]  # the demo is meant to show FAILs
    assert "Spacelift DR summary" in demo_run.output
    assert "Traceback" not in demo_run.output
    for name in ("dr-report.html", "dr-results.json", "dr-junit.xml"):
        assert (demo_run.reports / name).is_file()
        assert str(demo_run.reports / name) in demo_run.output


def test_results_json_follows_the_documented_schema(demo_run: DemoRun) -> None:
    document = json.loads((demo_run.reports / "dr-results.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA)
    ids = [r["id"] for r in document["results"]]
    assert len(ids) == len(set(ids)), "result ids are unique"
    assert all(r["id"] == f"{r['requirement']}:{r['resource']}" for r in document["results"])
    statuses = {r["status"] for r in document["results"]}
    assert {"PASS", "FAIL", "N/A"} <= statuses
    assert document["api_calls"]["total"] > 0
    assert sum(document["summary"].values()) == len(document["results"])


def test_html_report_is_one_self_contained_file(demo_run: DemoRun) -> None:
    html = (demo_run.reports / "dr-report.html").read_text(encoding="utf-8")
    assert "Spacelift DR compliance: demo" in html
    # Anything the browser would fetch by itself: src= of any element, <link href=…>, CSS url() / @import.
    fetched = re.findall(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    fetched += re.findall(r"""<link\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    fetched += re.findall(r"""(?:url\(|@import)\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert fetched == [], "the report must load nothing from the network"
    assert "http://" not in html
    assert "https://" not in html, "an archived report points nowhere outside itself"
    assert not list(demo_run.reports.glob("assets")), "no side files: everything is inline"
    assert "DR-OBJ-03" in html


def test_junit_carries_the_requirement_of_every_testcase(demo_run: DemoRun) -> None:
    tree = ET.parse(demo_run.reports / "dr-junit.xml")
    cases = tree.getroot().findall(".//testcase")
    assert cases
    for case in cases:
        properties = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        assert re.fullmatch(r"DR-[A-Z]{2,3}-[0-9]{2}", properties.get("requirement") or ""), case.get("name")
        assert properties.get("dr_status") in {"PASS", "FAIL", "ERROR", "N/A", "WAIVED"}


def test_no_demo_secret_appears_in_any_output(demo_run: DemoRun) -> None:
    outputs = {name: (demo_run.reports / name).read_text(encoding="utf-8")
               for name in ("dr-report.html", "dr-results.json", "dr-junit.xml")}
    outputs["terminal"] = demo_run.output
    for secret in DEMO_SECRETS:
        for name, text in outputs.items():
            assert secret not in text, f"a demo secret leaked into {name}"


@pytest.mark.parametrize("marker", ["stateless", "stateful", "encryption", "broker", "continuity"])
def test_a_marker_selects_exactly_its_category(marker: str, moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", marker)
    assert {r["category"] for r in outcome.results} <= {marker}
    assert outcome.exit_code in (0, 5)  # 5: no check of that category implemented yet


def test_k_and_dr_requirement_select_one_requirement(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    by_k = run_checks(demo, tmp_path / "k", "-k", "DR-OBJ-03")
    assert {r["requirement"] for r in by_k.results} == {"DR-OBJ-03"}
    assert len(by_k.results) == 4
    by_option = run_checks(demo, tmp_path / "option", "--dr-requirement", "DR-OBJ-02,DR-OBJ-04")
    assert {r["requirement"] for r in by_option.results} == {"DR-OBJ-02", "DR-OBJ-04"}


def test_unknown_requirement_is_a_usage_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-XYZ-99")
    assert outcome.exit_code == 4


def test_running_checks_without_an_installation_says_how_to_start() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 4
    assert "give --dr-config FILE" in done.stdout + done.stderr
    assert "--dr-demo" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
