"""The HTML report's parts without a browser: Markdown, evidence tables, ERROR guidance, recovery points,
the Content-Security-Policy and the order of the rows."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures import evidence
from spacelift_dr.catalogue import catalogue
from spacelift_dr.redaction import Redactor
from spacelift_dr.report_html import HtmlReport, duration, how_to_observe, markdown, value_html
from spacelift_dr.results import Status, recovery_points_of
from tests.report_samples import sample_results, synthetic_run, write_sample_report


def test_requirement_texts_render_their_markdown_without_raw_backticks() -> None:
    for entry in catalogue().values():
        for source in (entry.title, entry.expected, entry.remediation, entry.rationale):
            rendered = markdown(source)
            assert "`" not in rendered, entry.id
            if "`" in source:
                assert "<code>" in rendered, entry.id


def test_markdown_never_passes_markup_through() -> None:
    assert markdown("use `a<b>` and <script>alert(1)</script>") == (
        "use <code>a&lt;b&gt;</code> and &lt;script&gt;alert(1)&lt;/script&gt;")


def test_evidence_becomes_labelled_tables() -> None:
    rendered = value_html({"versioning": {"Status": "Enabled", "MFADelete": None},
                           "rules": [{"ID": "dr", "Status": "Enabled"}, {"ID": "old", "Priority": 2}],
                           "regions": ["eu-west-1", "eu-central-1"], "empty": []})
    assert "<th scope='row'>versioning</th>" in rendered
    assert "<th scope='row'>MFADelete</th><td><span class='dr-none'>none</span>" in rendered
    assert "<thead><tr><th scope='col'>ID</th><th scope='col'>Status</th><th scope='col'>Priority</th>" in rendered
    assert "<li>eu-central-1</li>" in rendered


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20))
def test_evidence_tables_escape_every_value(value: object) -> None:
    rendered = value_html(value)
    # Only the renderer's own tags remain: every '<' of the data is escaped.
    tags = set(re.findall(r"</?([a-z0-9]+)", rendered))
    assert tags <= {"table", "tr", "th", "td", "thead", "tbody", "ul", "ol", "li", "span", "code"}
    assert "<script" not in rendered


@pytest.mark.parametrize(("message", "expected"), [
    ("s3:GetReplicationConfiguration failed on spacelift-states-ab12c: AccessDenied (not authorized)",
     "Allow s3:GetReplicationConfiguration on spacelift-states-ab12c in eu-west-1 for the suite's credentials"),
    ("rds:DescribeDBClusters failed on spacelift: Throttling: Rate exceeded (after retries)", "throttled past retries"),
    ("kms:DescribeKey failed on mrk-1: could not connect to the endpoint URL", "endpoint in eu-west-1 reachable"),
    ("postgres:connect failed on the configured DSN: timed out", "read-only DSN"),
    ("spacelift:setting failed on DATABASE_URL: the database cannot be found", "installation.settings"),
    ("host:terraform failed on ssh://bastion: connection refused", "testinfra backend"),
    ("suite error in call: KeyError: 'x'", "suite itself failed"),
])
def test_error_rows_say_how_to_make_the_fact_observable(message: str, expected: str) -> None:
    actions = [{"action": "s3:GetReplicationConfiguration", "resource": "spacelift-states-ab12c",
                "region": "eu-west-1"},
               {"action": "kms:DescribeKey", "resource": "mrk-1", "region": "eu-west-1"}]
    assert expected in how_to_observe(message, actions)


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (None, 0, 0.25, 42, 900, 7500, 93784)] == [
        "—", "0 s", "250 ms", "42 s", "15 min", "2 h 5 min", "1 d 2 h"]


def test_recovery_points_come_from_the_measured_rpo_results() -> None:
    rows = recovery_points_of(sample_results())
    assert [(r["requirement"], r["component"], r["measured_seconds"], r["status"]) for r in rows] == [
        ("DR-DB-09", "database", 42.0, "PASS"), ("DR-OBJ-07", "object storage: states", 7500.0, "FAIL")]
    assert rows[0] == {"component": "database", "requirement": "DR-DB-09",
                       "resource": "arn:aws:rds:eu-west-1:123456789012:cluster:spacelift",
                       "mechanism": "Aurora global database secondary", "measured_seconds": 42.0, "measured": "42 s",
                       "target_seconds": 900, "status": "PASS", "previous_seconds": None}
    # The same from the results' JSON.
    assert recovery_points_of(r.to_json() for r in sample_results()) == rows
    assert recovery_points_of(sample_results()[2:]) == []


def _report(tmp_path: Path, with_points: bool = True) -> str:
    run = synthetic_run()
    run.results = sample_results() if with_points else sample_results()[2:]
    return write_sample_report(tmp_path / "dr-report.html", [run]).read_text(encoding="utf-8")


def test_the_first_screen_lists_failing_and_unevaluable_results_linked_to_their_rows(tmp_path: Path) -> None:
    html = _report(tmp_path)
    first = html[:html.index("<section class='dr-summaries'")]
    assert "Not DR-ready: 2 failing and 1 unevaluable results" in first
    for resource in ("spacelift-run-logs-ab12c", "spacelift-states-ab12c"):
        anchor = re.search(rf"<a href='#(r\d+)' data-dr-open='\1'><span class='dr-resource'>{resource}", first)
        assert anchor is not None, resource
        assert f"<tbody class='results-table-row dr-row-attention' id='{anchor.group(1)}'" in html
    assert "Recovery points in the backup region" in first
    assert "Aurora global database secondary" in first
    assert "2 h 5 min" in first
    assert "≤ 15 min" in first


def test_the_recovery_point_table_says_when_nothing_was_measured(tmp_path: Path) -> None:
    html = _report(tmp_path, with_points=False)
    assert "No recovery point was measured in this run" in html
    assert "<table class='dr-rpo-table'>" not in html


def test_a_baseline_shows_the_previous_recovery_point(tmp_path: Path) -> None:
    run = synthetic_run()
    run.results = sample_results()
    run.baseline = {"results": [], "started_at": "2026-11-29T09:00:00Z", "recovery_points": [
        {"component": "database", "requirement": "DR-DB-09",
         "resource": "arn:aws:rds:eu-west-1:123456789012:cluster:spacelift", "measured_seconds": 240}]}
    run.baseline_source = "previous/dr-results.json"
    html = write_sample_report(tmp_path / "r.html", [run]).read_text(encoding="utf-8")
    assert "was 4 min" in html
    assert "Since last run" in html
    assert "previous/dr-results.json" in html


def test_rows_put_every_non_pass_result_first_and_error_rows_say_how_to_evaluate(tmp_path: Path) -> None:
    html = _report(tmp_path)
    statuses = re.findall(r"data-drstatus='([^']+)'", html)
    assert statuses == ["FAIL", "FAIL", "ERROR", "N/A", "PASS", "PASS", "PASS", "PASS", "PASS"]
    error_row = html[html.index("data-drstatus='ERROR'"):]
    error_row = error_row[:error_row.index("</tbody>")]
    assert "To evaluate it" in error_row
    assert "Allow s3:GetReplicationConfiguration" in error_row
    assert "Remediation" not in error_row
    assert html.index("Results that are not PASS") < html.index("data-drstatus='FAIL'")
    assert html.index("data-drstatus='N/A'") < html.index("PASS results: one line each") < html.index(
        "data-drstatus='PASS'")


def test_the_policy_allows_exactly_the_inlined_style_and_script(tmp_path: Path) -> None:
    html = _report(tmp_path)
    policy = re.search(r"http-equiv='Content-Security-Policy' content=\"([^\"]+)\"", html)
    assert policy is not None
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(scripts) == 1
    assert len(styles) == 2

    def digest(source: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"

    assert f"script-src {digest(scripts[0])};" in policy.group(1).replace("&#x27;", "'")
    for style in styles:
        assert digest(style) in policy.group(1).replace("&#x27;", "'")
    assert "default-src 'none'" in policy.group(1).replace("&#x27;", "'")
    assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handler"
    assert " style=" not in html, "no inline style attribute (the policy would refuse it)"


def test_installation_strings_are_escaped(tmp_path: Path) -> None:
    run = synthetic_run("prod")
    run.results = sample_results("prod")
    run.results[2].message = "<img src=x> & 'quoted'"
    run.notes.append("<b>note</b>")
    html = write_sample_report(tmp_path / "r.html", [run]).read_text(encoding="utf-8")
    assert "<img src=x>" not in html
    assert "&lt;img src=x&gt; &amp; 'quoted'" in html
    assert "<b>note</b>" not in html


def test_known_secrets_never_reach_the_report(tmp_path: Path) -> None:
    run = synthetic_run()
    run.results = sample_results()
    run.redactor.add("hunter2-secret-value")
    run.results[2].message = "token hunter2-secret-value leaked"
    html = write_sample_report(tmp_path / "r.html", [run]).read_text(encoding="utf-8")
    assert "hunter2-secret-value" not in html


def test_several_installations_have_an_installation_column_and_verdicts(tmp_path: Path) -> None:
    prod, stage = synthetic_run("prod"), synthetic_run("stage")
    prod.results = sample_results("prod")
    stage.results = [r for r in sample_results("stage") if r.status is Status.PASS]
    html = write_sample_report(tmp_path / "r.html", [prod, stage]).read_text(encoding="utf-8")
    assert "prod: not DR-ready" in html
    assert "stage: DR-ready" in html
    assert "<th scope='col' class='col-installation' data-sort='installation'>" in html
    assert "prod · spacelift-run-logs-ab12c" in html


def test_the_first_screen_says_how_to_evaluate_an_error(tmp_path: Path) -> None:
    html = _report(tmp_path)
    first = html[:html.index("<section class='dr-summaries'")]
    assert "To evaluate it: Allow s3:GetReplicationConfiguration on spacelift-states-ab12c" in first


class _Recording(io.StringIO):
    """A file that remembers the largest single write."""

    largest = 0

    def write(self, chunk: str) -> int:
        self.largest = max(self.largest, len(chunk))
        return super().write(chunk)


def test_the_report_is_written_row_by_row(tmp_path: Path) -> None:
    """Rendering never holds the table whole: no write is more than a small part of the report."""
    runs = []
    for number in range(20):
        run = synthetic_run(f"installation-{number:02d}")
        run.results = sample_results(run.name)
        runs.append(run)
    out = _Recording()
    HtmlReport(runs, css="body {}", script="", incomplete=False).write_to(out)
    total = len(out.getvalue())
    assert out.getvalue().count("<tbody class='results-table-row") == 20 * len(sample_results())
    assert out.largest < total / 10, (out.largest, total)


def test_a_large_output_is_scrubbed_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "WHOLE_FILE_LIMIT", 100)
    path = tmp_path / "dr-report.html"
    path.write_text("<p>harmless</p>\n" * 20 + "<p>token s3cr3t-value-123 here</p>\n" + "<p>end</p>\n",
                    encoding="utf-8")
    redactor = Redactor()
    redactor.add("s3cr3t-value-123")
    evidence.scrub(path, redactor)
    scrubbed = path.read_text(encoding="utf-8")
    assert "s3cr3t-value-123" not in scrubbed
    assert "<p>token *** here</p>\n<p>end</p>\n" in scrubbed
    assert not list(tmp_path.glob("*.scrubbed"))
