"""The auditor's report in a real headless Chromium, opened from disk with the network blocked."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from tests.scenario import Outcome, run_checks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def demo_report(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    moto_server.reset()
    outcome = run_checks(seed(moto_server.url, DEMO_GAPS), tmp_path_factory.mktemp("browser"))
    moto_server.reset()
    return outcome


@contextmanager
def opened(report: Path) -> Iterator[tuple[Any, list[str]]]:
    """The report in headless Chromium, offline; every request that is not for a local file is recorded."""
    sync_api = pytest.importorskip("playwright.sync_api")
    left: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"])
        context = browser.new_context(viewport={"width": 1400, "height": 1600}, offline=True)

        def guard(route: Any) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:  # anything else would have left the machine: record it and refuse it
                left.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        tab = context.new_page()
        tab.goto(report.as_uri())
        tab.wait_for_selector("tbody.results-table-row")
        yield tab, left
        browser.close()


@pytest.fixture(scope="module")
def page(demo_report: Outcome) -> Iterator[tuple[Any, list[str]]]:
    with opened(demo_report.reports / "dr-report.html") as found:
        yield found


def test_nothing_leaves_the_page(page: tuple[Any, list[str]]) -> None:
    tab, left = page
    tab.wait_for_load_state("networkidle")
    assert left == []


def test_summary_figures_match_the_results_json(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    summary = demo_report.document["summary"]
    for status, count in summary.items():
        shown = tab.locator(f"td[data-dr-count='{status}'] b").inner_text()
        assert int(shown) == count, status
    assert tab.locator("tbody.results-table-row").count() == len(demo_report.results)


def test_filtering_by_status_shows_exactly_those_rows(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    for status in ("FAIL", "PASS", "N/A"):
        tab.select_option("select[data-dr-filter='drstatus']", status)
        visible = tab.locator("tbody.results-table-row:visible td.col-drstatus")
        expected = sum(1 for r in demo_report.results if r["status"] == status)
        assert visible.count() == expected, status
        assert set(visible.all_inner_texts()) <= {status}
    tab.select_option("select[data-dr-filter='drstatus']", "")
    assert tab.locator("tbody.results-table-row:visible").count() == len(demo_report.results)


def test_a_row_opens_to_its_evidence(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    failing = next(r for r in demo_report.results if r["status"] == "FAIL")
    row = tab.locator("tbody.results-table-row").filter(has_text=failing["message"]).filter(
        has_text=failing["resource"]).first
    evidence = row.locator("pre.dr-evidence")
    assert not evidence.is_visible(), "rows open folded"
    row.locator("td.col-requirement").click()
    assert evidence.is_visible()
    shown = json.loads(evidence.inner_text())
    assert shown["evidence"] == failing["evidence"]
    assert failing["remediation"] in row.locator("table.dr-detail").inner_text()
    (ROOT / "reports").mkdir(exist_ok=True)
    tab.screenshot(path=str(ROOT / "reports" / "dr-report-screenshot.png"), full_page=False)

