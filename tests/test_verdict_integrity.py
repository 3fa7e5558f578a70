"""Nothing green that was not observed: a run that evaluated nothing writes no report, and every output
of a run that did tells the same story."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.scenario import Hook, run_checks


def _calls(counter: list[str]) -> list[Hook]:
    """A hook that notes every AWS call before it is sent."""

    def note(model: Any, **_: Any) -> None:
        counter.append(model.name)

    return [("before-call", note)]


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
    outcome = run_checks(seed(moto.url), tmp_path, *args, capsys=capsys)
    _untouched(outcome.reports, before)
    assert "no report written" in outcome.output
    assert outcome.exit_code in (0, 5)


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
