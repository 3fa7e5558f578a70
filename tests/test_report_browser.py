"""The auditor's report in a real headless Chromium, opened from disk with the network blocked.

The first screen (1440×900) must show the verdict, the failing and unevaluable results and the
recovery-point table; rows open to their evidence; text contrast meets WCAG AA; nothing leaves the page.
The screenshots are kept in reports/ (dr-report-first-screen.png, dr-report-recovery-points.png).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from spacelift_dr.results import recovery_points_of
from tests.scenario import Outcome, run_checks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
SCREEN = {"width": 1440, "height": 900}

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
def opened(report: Path, viewport: dict[str, int] | None = None) -> Iterator[tuple[Any, list[str]]]:
    """The report in headless Chromium, offline; every request that is not for a local file is recorded,
    and so is every console message (a refused script or style would say so there)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    left: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"])
        context = browser.new_context(viewport=viewport or SCREEN, offline=True)

        def guard(route: Any) -> None:
            if route.request.url.startswith("file://"):
                route.continue_()
            else:  # anything else would have left the machine: record it and refuse it
                left.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        tab = context.new_page()
        tab.on("console", lambda message: left.append(f"console {message.type}: {message.text}"))
        tab.on("pageerror", lambda error: left.append(f"page error: {error}"))
        tab.goto(report.as_uri())
        tab.wait_for_selector("tbody.results-table-row")
        yield tab, left
        browser.close()


@pytest.fixture(scope="module")
def page(demo_report: Outcome) -> Iterator[tuple[Any, list[str]]]:
    with opened(demo_report.reports / "dr-report.html") as found:
        yield found


def _within_screen(tab: Any, selector: str) -> dict[str, float]:
    box = tab.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not displayed"
    assert box["y"] >= 0, f"{selector} is above the screen: {box}"
    assert box["y"] + box["height"] <= SCREEN["height"], f"{selector} is below the fold: {box}"
    return dict(box)


def test_the_first_screen_answers_with_the_failing_results_and_the_recovery_points(
        page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    tab.evaluate("window.scrollTo(0, 0)")
    _within_screen(tab, "h2.dr-verdict")
    failing = [r for r in demo_report.results if r["status"] in ("FAIL", "ERROR")]
    assert failing, "the demo has findings"
    assert tab.locator("h2.dr-verdict").inner_text().startswith("Not DR-ready")
    _within_screen(tab, "#dr-attention")
    _within_screen(tab, "#dr-recovery-points")
    _within_screen(tab, ".dr-since")
    links = tab.locator("#dr-attention a[data-dr-open]")
    assert links.count() == len(failing)
    listed = tab.locator("#dr-attention").inner_text()
    for result in failing:
        assert result["requirement"] in listed
        assert result["resource"] in listed
        assert result["message"] in listed
        assert result["title"] in listed
    # The merged demo has more findings than one screen holds: the list scrolls inside its panel (its height
    # follows the window), so every entry is reached on the first screen without the page moving.
    for index in range(links.count()):
        links.nth(index).scroll_into_view_if_needed()
        assert tab.evaluate("window.scrollY") == 0, "the page moved to show a failing entry"
        box = links.nth(index).bounding_box()
        assert box is not None
        assert box["y"] >= 0, (index, box)
        assert box["y"] + box["height"] <= SCREEN["height"], (index, box)
    tab.evaluate("document.querySelector('#dr-attention .dr-attention-list').scrollTop = 0")
    # The recovery points the run measured (DR-DB-09, DR-OBJ-07), each with its figure and verdict.
    points = recovery_points_of(demo_report.results)
    assert points, "the demo measures its database's and buckets' recovery points"
    table = tab.locator("#dr-recovery-points").inner_text()
    assert "No recovery point was measured" not in table
    for point in points:
        assert point["component"] in table, point
        assert point["measured"] in table, point
        assert point["status"] in table, point
    (ROOT / "reports").mkdir(exist_ok=True)
    tab.screenshot(path=str(ROOT / "reports" / "dr-report-first-screen.png"), full_page=False)


def test_a_failing_entry_opens_its_row(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    link = tab.locator("#dr-attention a[data-dr-open]").first
    target = link.get_attribute("data-dr-open")
    link.click()
    row = tab.locator(f"tbody#{target}")
    assert row.locator("tr.dr-detail-row").is_visible()
    assert row.locator("button.dr-toggle").get_attribute("aria-expanded") == "true"
    assert row.locator("table.dr-detail").is_visible()
    row.locator("td.col-message").click()  # folds again
    assert not row.locator("tr.dr-detail-row").is_visible()
    tab.evaluate("window.scrollTo(0, 0)")


def test_nothing_leaves_the_page(page: tuple[Any, list[str]]) -> None:
    tab, left = page
    tab.wait_for_load_state("networkidle")
    assert left == [], "no request, no refused script or style, no script error"
    # The script ran under the page's Content-Security-Policy (it is allowed by its hash).
    assert "results shown" in tab.locator(".dr-shown").inner_text()


def test_summary_figures_match_the_results_json(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    summary = demo_report.document["summary"]
    for status, count in summary.items():
        shown = tab.locator(f"[data-dr-count='{status}'] b").inner_text()
        assert int(shown) == count, status
    assert tab.locator("tbody.results-table-row").count() == len(demo_report.results)


def test_the_status_column_is_the_dr_status_everywhere(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    shown = tab.locator("tbody.results-table-row td.col-drstatus").all_inner_texts()
    assert sorted(shown) == sorted(r["status"] for r in demo_report.results)
    table = tab.locator("#results-table").inner_text()
    for word in ("Failed", "Skipped", "Passed", "XFailed", "Rerun"):
        assert word not in table.split(), word


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


def test_sorting_by_a_column_and_back(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    tab.locator("th[data-sort='resource'] button").click()
    resources = tab.locator("tbody.results-table-row td.col-resource").all_inner_texts()
    assert len(set(resources)) > 10
    in_order = tab.evaluate("rs => rs.every((r, i) => i === 0 || rs[i - 1].localeCompare(r, undefined, "
                            "{numeric: true}) <= 0)", resources)
    assert in_order, resources
    tab.locator("th[data-sort='resource'] button").click()  # descending
    tab.locator("th[data-sort='resource'] button").click()  # the report's own order again
    statuses = tab.locator("tbody.results-table-row td.col-drstatus").all_inner_texts()
    assert statuses.index("PASS") > max(i for i, s in enumerate(statuses) if s != "PASS")


def test_a_row_opens_to_its_evidence_tables_and_raw_json(page: tuple[Any, list[str]], demo_report: Outcome) -> None:
    tab, _ = page
    failing = next(r for r in demo_report.results if r["status"] == "FAIL" and r["evidence"].get("bucket"))
    row = tab.locator("tbody.results-table-row").filter(has_text=failing["message"]).filter(
        has_text=failing["resource"]).first
    details = row.locator("tr.dr-detail-row")
    assert not details.is_visible(), "rows open folded"
    row.locator("td.col-requirement button").click()
    assert details.is_visible()
    observed = row.locator(".dr-observed").inner_text()
    for key, value in failing["evidence"].items():
        assert key in observed
        if isinstance(value, str):
            assert value in observed
    reads = row.locator("table.dr-actions").inner_text()
    for action in failing["actions"]:
        assert action["action"] in reads
        assert action["resource"] in reads
    origins = row.locator("table.dr-settings").inner_text()
    assert failing["evidence"]["setting"] in origins
    assert "ECS task definition" in origins
    detail = row.locator("table.dr-detail").inner_text()
    assert "`" not in detail, "Markdown is rendered"
    assert row.locator("table.dr-detail code").count() > 0
    evidence = row.locator("pre.dr-evidence")
    assert not evidence.is_visible()
    row.locator("details.dr-raw summary").click()
    assert json.loads(evidence.inner_text()) == {"evidence": failing["evidence"], "actions": failing["actions"]}


_CONTRAST = """() => {
  function rgba(text) { const m = text.match(/[\\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map(
      v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function background(element) {
    for (let e = element; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.99) { return c; }
    }
    return [255, 255, 255, 1];
  }
  const worst = [];
  for (const element of document.querySelectorAll('table *, #dr-attention *, h2, .dr-tile, .dr-tile *')) {
    const own = Array.from(element.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || element.offsetParent === null) { continue; }
    const style = getComputedStyle(element);
    const fg = rgba(style.color), bg = background(element);
    const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) { worst.push([element.tagName, element.className, element.textContent.slice(0, 40), ratio]); }
  }
  return worst;
}"""


def test_text_contrast_meets_wcag_aa(page: tuple[Any, list[str]]) -> None:
    tab, _ = page
    tab.locator("button.dr-expand-all").click()  # every row's evidence on display, with its colours
    tab.locator("details.dr-raw").first.evaluate("d => d.open = true")
    try:
        assert tab.evaluate(_CONTRAST) == []
    finally:
        tab.locator("button.dr-expand-all").click()
