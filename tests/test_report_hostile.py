"""Strings from the installation never run as script in the report (stored XSS).

A Terraform backend ``bucket = "<img src=x onerror=…>"`` once became a test id that pytest-html inserted
with ``innerHTML``; the suite now writes its own report (issue 17), escaping every string where it is
written, under a Content-Security-Policy that admits only the page's own script and styles (by hash).
Hostile strings go here into every field that reaches the page from the installation: parameter ids,
resources, messages and evidence (Terraform backends and the folders of the code), and the run's metadata
(the config file's path). The page is opened in headless Chromium with a hook that records any script
those strings start and any Content-Security-Policy violation: escaping alone must hold (no violation
even attempted), and the policy must still let the page's own script run (every row opens).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.html_safety import safe_ids
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


def _policy(html: str) -> str:
    found = re.search(r"<meta http-equiv=['\"]Content-Security-Policy['\"] content=\"([^\"]*)\">", html)
    assert found is not None, "the report carries its Content-Security-Policy"
    return found.group(1).replace("&#x27;", "'").replace("&#39;", "'").replace("&quot;", '"').replace("&amp;", "&")


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_no_string_from_the_installation_runs_as_script(hostile_report: Outcome, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    page = tmp_path / "dr-report.html"
    shutil.copy(hostile_report.reports / "dr-report.html", page)
    html = page.read_text(encoding="utf-8")
    assert "script-src 'sha256-" in _policy(html)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(offline=True)
        context.add_init_script(
            "window.__pwned = []; window.__blocked = [];"
            "document.addEventListener('securitypolicyviolation', e => window.__blocked.push("
            "e.violatedDirective + ' ' + e.sample));")
        tab = context.new_page()
        tab.goto(page.as_uri())
        tab.wait_for_selector("tbody.results-table-row")
        toggles = tab.locator("tbody.results-table-row button.dr-toggle").all()
        assert toggles, "the hostile run has result rows"
        for toggle in toggles:
            toggle.click()  # open every row: its evidence shows
        tab.wait_for_timeout(300)
        # The page's own script ran under the policy: the rows opened.
        opened = tab.locator("tbody.results-table-row button.dr-toggle[aria-expanded='true']").count()
        pwned: list[Any] = tab.evaluate("window.__pwned")
        blocked: list[Any] = tab.evaluate("window.__blocked")
        injected = tab.evaluate("document.querySelectorAll('img[src=x], svg[onload], iframe[srcdoc], "
                                "details[ontoggle], script:not([src])').length")
        shown = tab.locator("body").inner_text()
        browser.close()
    assert opened == len(toggles)
    assert pwned == []
    assert blocked == []  # escaping alone held: the policy never had to block anything
    assert injected == 1  # the page's own inline script, nothing else
    for payload in PAYLOADS:
        assert payload in shown  # shown as text, not dropped


def test_the_policy_allows_only_the_pages_own_script_and_styles(hostile_report: Outcome) -> None:
    html = (hostile_report.reports / "dr-report.html").read_text(encoding="utf-8")
    policy = _policy(html)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["default-src"] == "'none'"
    assert "'unsafe-inline'" not in policy
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(scripts) == 1
    assert directives["script-src"] == _sha256(scripts[0])
    assert sorted(directives["style-src"].split()) == sorted(_sha256(style) for style in styles)
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'none'"


def _sha256(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"


@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_parameter_ids_are_plain_and_stay_unique(values: list[str]) -> None:
    ids = safe_ids(list(values))
    assert all(re.fullmatch(r"[A-Za-z0-9_.:/@+=,~-]{1,210}", i) for i in ids)
    assert len(set(ids)) == len(set(values)) or len(set(ids)) == len(ids)
