"""The report of a run over several installations, in headless Chromium: the installation filter."""

from __future__ import annotations

from pathlib import Path

from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from tests.scenario import run_fleet
from tests.test_report_browser import ROOT, opened, pytestmark  # noqa: F401 - the browser marks apply here too


def test_several_installations_filter_by_installation(moto: DemoServer, tmp_path: Path) -> None:
    demos = {"prod": seed(moto.url, DEMO_GAPS), "stage": seed(moto.url, (), account="111111111111", suffix="cd34e")}
    fleet = run_fleet(demos, tmp_path)
    with opened(fleet.reports / "dr-report.html") as (tab, left):
        assert tab.locator("h3", has_text="By installation").count() == 1
        for name, outcome in fleet.per_installation.items():
            tab.select_option("select[data-dr-filter='installation']", name)
            shown = tab.locator("tbody.results-table-row:visible td.col-installation")
            assert shown.count() == len(outcome.results), name
            assert set(shown.all_inner_texts()) == {name}
        tab.select_option("select[data-dr-filter='drstatus']", "FAIL")
        failing = sum(1 for r in fleet.per_installation["stage"].results if r["status"] == "FAIL")
        assert tab.locator("tbody.results-table-row:visible").count() == failing
        tab.select_option("select[data-dr-filter='drstatus']", "")
        tab.select_option("select[data-dr-filter='installation']", "")
        tab.wait_for_load_state("networkidle")
        assert left == []
        (ROOT / "reports").mkdir(exist_ok=True)
        tab.screenshot(path=str(ROOT / "reports" / "dr-report-installations-screenshot.png"), full_page=False)
