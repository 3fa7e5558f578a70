"""Start-up: a compliance run loads what its selected checks need, and nothing else (issue 18).

The suite runs in a process of its own, as a user runs it, so that ``sys.modules`` shows what the suite
itself imported. A heavy library imported at module level (in a fixture plugin, a facts module, a check
module) fails here: import it in the function that needs it, with a ``TYPE_CHECKING`` import for the
annotations (see spacelift_dr/aws.py or spacelift_dr/facts/postgres.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from spacelift_dr.aws import _IAM_PREFIX
from spacelift_dr.demo import DemoServer, seed
from tests.scenario import aws_environment

ROOT = Path(__file__).resolve().parent.parent

# The suite under a probe: what it imported, and which botocore service descriptions it read from disk.
PROBE = """
import gc, json, sys
out, watch, args = sys.argv[1], sys.argv[2] == "models", sys.argv[3:]
files = []
if watch:  # every description the suite loads, from botocore's files or from the suite's disk cache
    from spacelift_dr.aws import LeanDescriptions
    original = LeanDescriptions.load_file
    def load_file(self, file_path):
        files.append(str(file_path))
        return original(self, file_path)
    LeanDescriptions.load_file = load_file
import pytest
code = pytest.main(args)
with open(out, "w") as handle:
    json.dump({"exit": int(code), "modules": sorted(sys.modules), "files": files, "frozen": gc.get_freeze_count()},
              handle)
"""

# Never in a compliance run: development tools, the demo's moto, and libraries of checks that were not
# selected (the demo config names no database DSN, no hosts, and -m encryption selects no continuity check).
NEVER = ("_hypothesis_pytestplugin", "hypothesis", "moto", "playwright", "jsonschema")
UNSELECTED = ("psycopg", "testinfra", "hcl2", "kubernetes")
# `pytest --help` reads no config, no AWS and writes no report.
NOT_FOR_HELP = ("boto3", "botocore", "pydantic", "markdown_it", "cryptography")
# A read needs botocore only: boto3's session, transfer manager and resource models are not loaded.
NOT_FOR_READS = ("boto3", "s3transfer")


def _probe(tmp_path: Path, args: list[str], watch_models: bool = False) -> dict[str, Any]:
    out = tmp_path / "probe.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HYPOTHESIS_"))}
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), "models" if watch_models else "-", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.exists(), f"the suite did not finish:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return dict(json.loads(out.read_text(encoding="utf-8")))


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted({name for name in names for module in modules if module == name or module.startswith(name + ".")})


def _demo_config(moto: DemoServer, tmp_path: Path) -> Path:
    config = tmp_path / "demo.yaml"
    data = seed(moto.url).config("demo").model_dump(mode="json", exclude_defaults=True)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def test_help_loads_no_heavy_library(tmp_path: Path) -> None:
    found = _probe(tmp_path, ["--help"])
    assert found["exit"] == 0
    assert _loaded(found["modules"], NEVER + UNSELECTED + NOT_FOR_HELP) == []


def test_collecting_the_encryption_checks_loads_only_what_they_need(moto: DemoServer, tmp_path: Path) -> None:
    config = _demo_config(moto, tmp_path)
    with aws_environment(moto.url):
        found = _probe(tmp_path, [f"--dr-config={config}", f"--dr-reports={tmp_path / 'reports'}", "-m", "encryption",
                                  "--collect-only", "-q"])
    assert found["exit"] == 0
    assert _loaded(found["modules"], NEVER + UNSELECTED + ("markdown_it", "cryptography")) == []


def test_an_encryption_run_reads_each_service_description_once_and_only_for_services_it_calls(
        moto: DemoServer, tmp_path: Path) -> None:
    config = _demo_config(moto, tmp_path)
    reports = tmp_path / "reports"
    with aws_environment(moto.url):
        found = _probe(tmp_path, [f"--dr-config={config}", f"--dr-reports={reports}", "-m", "encryption", "-q"],
                       watch_models=True)
    assert found["exit"] in (0, 1)  # verdicts, not a broken suite
    assert _loaded(found["modules"], NEVER + UNSELECTED + NOT_FOR_READS) == []
    # The run's objects were moved out of the cyclic collector's sight before the end-of-run collections.
    assert found["frozen"] > 0

    document = json.loads((reports / "dr-results.json").read_text(encoding="utf-8"))
    assert {r["requirement"].split("-")[1] for r in document["results"]} <= {"KMS", "RSA"}
    to_service = {prefix: service for service, prefix in _IAM_PREFIX.items()}
    prefixes = {action.split(":")[0] for action in document["api_calls"]["by_action"]}
    called = {to_service.get(prefix, prefix) for prefix in prefixes}
    descriptions = [m.group(1) for f in found["files"]
                    if (m := re.search(r"[/\\]data[/\\]([^/\\]+)[/\\][^/\\]+[/\\]service-2(?:\.json)?(?:\.gz)?$", f))]
    assert sorted(descriptions) == sorted(set(descriptions)), "a service description was read twice"
    assert set(descriptions) == called
    assert document["api_calls"]["total"] == document["api_calls"]["distinct"]


def test_a_run_inside_another_pytest_session_leaves_its_garbage_collection_alone(moto: DemoServer,
                                                                                 tmp_path: Path) -> None:
    import gc

    from tests.scenario import _freeze_once, run_checks

    _freeze_once()  # the test harness's own freeze (tests/scenario.py), done before counting
    before = gc.get_freeze_count()
    demo = seed(moto.url)
    for attempt in ("first", "second"):  # the first run's end must not make the second one think it is alone
        outcome = run_checks(demo, tmp_path / attempt, "-m", "encryption")
        assert outcome.document["results"]
    assert gc.get_freeze_count() <= before  # nothing frozen (frozen objects that die leave the count)


def test_a_verdict_is_reported_without_formatting_a_traceback(moto: DemoServer, tmp_path: Path,
                                                              monkeypatch: Any) -> None:
    """pytest's traceback formatting parses the source of every frame; a FAIL, ERROR or N/A needs only its
    message (a fifth of a demo run's CPU went there). A suite error keeps its traceback."""
    from _pytest.nodes import Node

    from spacelift_dr.demo import DEMO_GAPS
    from tests.scenario import denied, run_checks

    formatted: list[str] = []
    original = Node._repr_failure_py

    def counting(self: Node, excinfo: Any, style: Any = None) -> Any:
        formatted.append(type(excinfo.value).__name__)
        return original(self, excinfo, style)

    monkeypatch.setattr(Node, "_repr_failure_py", counting)
    outcome = run_checks(seed(moto.url, DEMO_GAPS), tmp_path, hooks=denied("DescribeKey", "kms"))
    statuses = {r["status"] for r in outcome.document["results"]}
    assert {"FAIL", "ERROR"} <= statuses, statuses
    assert formatted == []
    failing = [r for r in outcome.document["results"] if r["status"] in ("FAIL", "ERROR")]
    junit = (outcome.reports / "dr-junit.xml").read_text(encoding="utf-8")
    assert all(r["message"][:40] in junit or r["message"][:40].replace("'", "&apos;") in junit for r in failing)
