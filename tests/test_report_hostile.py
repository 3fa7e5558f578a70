"""Strings from the installation never run as script in the report (stored XSS).

A Terraform backend ``bucket = "<img src=x onerror=…>"`` once became a test id that pytest-html inserted
with ``innerHTML``. Hostile strings go here into every field that reaches the page from the
installation: parameter ids, resources, messages and evidence (Terraform backends and the folders of the
code), and the run's metadata (the config file's path). The page is opened in headless Chromium with a
hook that records any script those strings start and any Content-Security-Policy violation: escaping
alone must hold (no violation even attempted), and the policy must still let the page's own scripts run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.html_safety import content_security_policy, safe_ids, with_content_security_policy
from tests.scenario import Outcome, run_checks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Each breaks out of a different context: element text, a double- or single-quoted attribute, a table
# cell, a script block; each reports itself if it ever runs.
PAYLOADS = [
    '<img src=x onerror="window.__pwned.push(1)">',
    '"><svg onload=window.__pwned.push(2)>',
    "'><iframe srcdoc='<script>parent.__pwned.push(3)</script>'></iframe>",
    "</td></tr></table><script>window.__pwned.push(4)</script>",
    "<details open ontoggle=window.__pwned.push(5)>",
]


def _hcl(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture(scope="module")
def hostile_report(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    moto_server.reset()
    base = tmp_path_factory.mktemp("hostile")
    dirs = []
    for number, payload in enumerate(PAYLOADS):
        code = base / "code" / f"m{number}{payload.replace('/', '')}"
        code.mkdir(parents=True)
        (code / "main.tf").write_text(
            'terraform {\n  backend "s3" {\n'
            f"    bucket = {_hcl(payload)}\n    key = {_hcl(payload + '.tfstate')}\n"
            '    region = "eu-west-1"\n  }\n}\n', encoding="utf-8")
        dirs.append(str(code))
    # The config file's folder is shown in the run's metadata.
    where = base / PAYLOADS[0].replace("/", "")
    outcome = run_checks(seed(moto_server.url), where, "-m", "continuity",
                         overrides={"continuity": {"terraform_dirs": dirs}})
    moto_server.reset()
    return outcome


def test_hostile_strings_reach_the_results(hostile_report: Outcome) -> None:
    """The test below would prove nothing if the strings never reached the page."""
    resources = " ".join(r["resource"] + r["message"] for r in hostile_report.results)
    for payload in PAYLOADS:
        assert payload in resources


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_no_string_from_the_installation_runs_as_script(hostile_report: Outcome, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Opened from a plain path: pytest-html's history.pushState refuses file URLs with escaped characters.
    page = tmp_path / "dr-report.html"
    shutil.copy(hostile_report.reports / "dr-report.html", page)
    html = page.read_text(encoding="utf-8")
    assert 'http-equiv="Content-Security-Policy"' in html
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(offline=True)
        context.add_init_script(
            "window.__pwned = []; window.__blocked = [];"
            "document.addEventListener('securitypolicyviolation', e => window.__blocked.push("
            "e.violatedDirective + ' ' + e.sample));")
        tab = context.new_page()
        tab.goto(page.as_uri())
        tab.wait_for_selector("tbody.results-table-row")  # pytest-html's own script ran under the policy
        for row in tab.locator("tbody.results-table-row td.col-resource").all()[:40]:
            row.click()  # open rows: their details are inserted on demand
        tab.wait_for_timeout(300)
        pwned: list[Any] = tab.evaluate("window.__pwned")
        blocked: list[Any] = tab.evaluate("window.__blocked")
        injected = tab.evaluate("document.querySelectorAll('img[src=x], svg[onload], iframe[srcdoc], "
                                "details[ontoggle], script:not([src])').length")
        shown = tab.locator("body").inner_text()
        browser.close()
    assert pwned == []
    assert blocked == []  # escaping alone held: the policy never had to block anything
    assert injected == 2  # the page's own two inline scripts, nothing else
    for payload in PAYLOADS:
        assert payload in shown  # shown as text, not dropped


def test_the_policy_allows_only_the_pages_own_scripts() -> None:
    page = "<html><head><title>t</title></head><body><script>ok()</script><img src=x onerror=bad()></body></html>"
    policy = content_security_policy(page)
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "default-src 'none'" in policy
    assert policy.count("'sha256-") == 1
    secured = with_content_security_policy(page)
    assert secured.index("Content-Security-Policy") < secured.index("<title>")
    assert with_content_security_policy(secured) == secured


@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_parameter_ids_are_plain_and_stay_unique(values: list[str]) -> None:
    ids = safe_ids(list(values))
    assert all(re.fullmatch(r"[A-Za-z0-9_.:/@+=,~-]{1,210}", i) for i in ids)
    assert len(set(ids)) == len(set(values)) or len(set(ids)) == len(ids)
