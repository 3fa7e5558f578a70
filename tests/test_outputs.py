"""The pipeline's outputs: since-last-run, the integrity manifest, and exit statuses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from spacelift_dr.compare import since_last_run
from spacelift_dr.demo import DemoServer, seed
from tests.scenario import denied, run_checks


def test_since_last_run_sorts_results_into_new_resolved_and_still_failing() -> None:
    before = {"results": [{"id": "A:x", "status": "FAIL"}, {"id": "B:x", "status": "PASS"},
                          {"id": "C:x", "status": "ERROR"}, {"id": "D:x", "status": "FAIL"}]}
    now = [{"id": "A:x", "status": "PASS"}, {"id": "B:x", "status": "FAIL"}, {"id": "C:x", "status": "FAIL"},
           {"id": "E:x", "status": "FAIL"}]
    changes = since_last_run(before, now, "old.json")
    assert changes["resolved"] == ["A:x"]
    assert changes["new_failures"] == ["B:x", "E:x"]
    assert changes["still_failing"] == ["C:x"]
    assert changes["new_resources"] == ["E:x"]
    assert changes["no_longer_evaluated"] == ["D:x"]


def test_a_run_against_a_baseline_reports_what_changed(moto: DemoServer, tmp_path: Path) -> None:
    first = run_checks(seed(moto.url, ["no-replication:states"]), tmp_path / "first", "-m", "stateful")
    moto.reset()
    second = run_checks(seed(moto.url, ["unversioned:modules"]), tmp_path / "second", "-m", "stateful",
                        "--dr-baseline", str(first.reports / "dr-results.json"))
    changes = second.document["since_last_run"]
    assert "DR-OBJ-03:spacelift-states-ab12c" in changes["resolved"]
    assert "DR-OBJ-02:spacelift-modules-ab12c" in changes["new_failures"]
    html = (second.reports / "dr-report.html").read_text(encoding="utf-8")
    assert "Since last run" in html
    assert "DR-OBJ-02:spacelift-modules-ab12c" in html


def test_a_malformed_baseline_is_a_usage_error(moto: DemoServer, tmp_path: Path) -> None:
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"results": [{"status": "PASS"}]}), encoding="utf-8")
    outcome = run_checks(seed(moto.url), tmp_path / "run", "--dr-baseline", str(bad))
    assert outcome.exit_code == 4


def test_the_manifest_holds_the_digest_of_each_output(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "stateless")
    lines = (outcome.reports / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    digests = dict(reversed(line.split("  ", 1)) for line in lines)
    assert set(digests) == {"dr-report.html", "dr-results.json", "dr-junit.xml"}
    for name, digest in digests.items():
        assert hashlib.sha256((outcome.reports / name).read_bytes()).hexdigest() == digest


def test_exit_status_tells_clean_failing_and_only_unevaluable_runs_apart(moto: DemoServer, tmp_path: Path) -> None:
    clean = run_checks(seed(moto.url), tmp_path / "clean", "-m", "stateful or stateless")
    assert clean.exit_code == 0
    moto.reset()
    failing = run_checks(seed(moto.url, ["no-failback:states"]), tmp_path / "failing", "-m", "stateful")
    assert failing.exit_code == 1
    moto.reset()
    unevaluable = run_checks(seed(moto.url), tmp_path / "errors", "-m", "stateful",
                             hooks=denied("GetBucketReplication", "s3"))
    assert unevaluable.document["summary"]["FAIL"] == 0
    assert unevaluable.document["summary"]["ERROR"] > 0
    assert unevaluable.exit_code == 6
