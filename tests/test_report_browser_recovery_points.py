"""The recovery-point table and an ERROR row in headless Chromium, from synthetic results (the measured-RPO
checks DR-DB-09 and DR-OBJ-07 bring the figures; the report only renders them)."""

from __future__ import annotations

from pathlib import Path

from tests.report_samples import sample_results, synthetic_run, write_sample_report
from tests.test_report_browser import ROOT, _within_screen, opened, pytestmark  # noqa: F401 - browser marks


def test_recovery_point_table_on_the_first_screen(tmp_path: Path) -> None:
    run = synthetic_run()
    run.results = sample_results()
    report = write_sample_report(tmp_path / "dr-report.html", [run])
    with opened(report) as (tab, left):
        box = _within_screen(tab, "table.dr-rpo-table")
        assert box["height"] > 40
        rows = tab.locator("table.dr-rpo-table tbody tr")
        assert rows.count() == 2
        database, states = rows.nth(0).inner_text(), rows.nth(1).inner_text()
        assert "Aurora global database secondary" in database
        assert "42 s" in database
        assert "PASS" in database
        assert "S3 replication" in states
        assert "2 h 5 min" in states
        assert "≤ 15 min" in states
        assert "FAIL" in states
        _within_screen(tab, "#dr-attention")
        error = tab.locator("tbody.results-table-row[data-drstatus='ERROR']")
        error.locator("td.col-message").click()
        guidance = error.locator("table.dr-detail").inner_text()
        assert "To evaluate it" in guidance
        assert "Allow s3:GetReplicationConfiguration" in guidance
        assert "Remediation" not in guidance
        assert left == []
        tab.evaluate("window.scrollTo(0, 0)")
        (ROOT / "reports").mkdir(exist_ok=True)
        tab.screenshot(path=str(ROOT / "reports" / "dr-report-recovery-points.png"), full_page=False)


def test_what_changed_since_the_last_run_is_on_the_first_screen(tmp_path: Path) -> None:
    run = synthetic_run()
    run.results = sample_results()
    before = [{"id": r.id, "status": "PASS"} for r in run.results]
    before += [{"id": f"DR-OBJ-02:spacelift-old-{n}", "status": "FAIL"} for n in range(40)]
    run.baseline = {"results": before, "started_at": "2026-11-29T09:00:00Z"}
    run.baseline_source = "previous/dr-results.json"
    report = write_sample_report(tmp_path / "dr-report.html", [run])
    with opened(report) as (tab, left):
        since = tab.locator(".dr-since")
        _within_screen(tab, ".dr-since")
        _within_screen(tab, "table.dr-rpo-table")
        shown = since.inner_text()
        assert "New failures: 3" in shown
        assert "No longer evaluated: 40" in shown
        assert "DR-OBJ-03:spacelift-run-logs-ab12c" in since.locator("details[open]").inner_text()
        assert left == []
