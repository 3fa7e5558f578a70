"""The report on paper: ``--dr-pdf`` prints it with the system Chromium; read back with pdftotext.

The pages come in the auditor's order: the verdict with the failing results and the recovery points,
the summaries, every non-PASS result with its evidence, then the PASS results one line each; each page
is headed with the installation, the date and its number.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from tests.scenario import Outcome, run_checks
from tests.test_report_browser import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed"),
]


@pytest.fixture(scope="module")
def printed(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    moto_server.reset()
    outcome = run_checks(seed(moto_server.url, DEMO_GAPS), tmp_path_factory.mktemp("pdf"), "--dr-pdf")
    moto_server.reset()
    return outcome


def pages_of(pdf: Path) -> list[str]:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True)
    return done.stdout.split("\f")[:-1]


def squeezed(value: str) -> str:
    """Without whitespace and hyphens: long values wrap over lines on paper, and pdftotext joins a word
    broken after a hyphen without it."""
    return re.sub(r"[\s-]+", "", value)


def leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in leaves(v)]
    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def test_the_pdf_is_written_and_listed_in_the_digests(printed: Outcome) -> None:
    pdf = printed.reports / "dr-report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    sums = dict(reversed(line.split("  ")) for line in
                (printed.reports / "SHA256SUMS").read_text(encoding="utf-8").splitlines())
    assert sums["dr-report.pdf"] == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_every_page_is_headed_with_installation_date_and_number(printed: Outcome) -> None:
    pages = pages_of(printed.reports / "dr-report.pdf")
    started = printed.document["started_at"][:10]
    for number, page in enumerate(pages, start=1):
        assert "Spacelift DR compliance: demo" in page, number
        assert started in page, number
        assert f"Page {number} of {len(pages)}" in page, number


def test_the_first_page_answers_like_the_first_screen(printed: Outcome) -> None:
    first = pages_of(printed.reports / "dr-report.pdf")[0]
    assert "Not DR-ready" in first
    assert "Failing and unevaluable requirements" in first
    assert "Recovery points in the backup region" in first
    assert "Since last run" in first
    for result in printed.results:
        if result["status"] in ("FAIL", "ERROR"):
            assert squeezed(result["message"]) in squeezed(first), result["id"]


def test_non_pass_results_with_their_evidence_come_before_the_pass_results(printed: Outcome) -> None:
    pages = pages_of(printed.reports / "dr-report.pdf")
    text = squeezed("".join(pages))
    attention = text.index(squeezed("Results that are not PASS"))
    passing = text.index(squeezed("PASS results: one line each"))
    assert text.index(squeezed("By framework control")) < attention < passing
    for result in printed.results:
        where = text.find(squeezed(result["id"]), attention)
        if result["status"] == "PASS":
            # one line: the message is there, the evidence and expected condition are not
            assert text.find(squeezed(result["message"]), passing) > passing, result["id"]
            continue
        assert attention < where < passing, result["id"]
        section = text[attention:passing]
        for leaf in leaves(result["evidence"]):
            assert squeezed(leaf) in section, (result["id"], leaf)
        for action in result["actions"]:
            assert squeezed(action["action"]) in section
    passed_page = next(i for i, page in enumerate(pages) if "PASS results: one line each" in page)
    assert all("Expected" not in page for page in pages[passed_page + 1:]), "PASS rows print without details"


def test_no_column_is_crushed_on_paper(printed: Outcome) -> None:
    """Each column keeps a legible width: a requirement ID and a status never break inside."""
    text = "".join(pages_of(printed.reports / "dr-report.pdf"))
    for result in printed.results:
        assert result["requirement"] in text, result["requirement"]
    assert re.search(r"\bDR-\n", text) is None


def test_pdf_without_chromium_is_a_usage_error(moto: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("fixtures.report.find_chromium", lambda: None)
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-pdf")
    assert outcome.exit_code == 4
    error = capsys.readouterr().err
    assert "--dr-pdf: expected a Chromium browser" in error
    assert "Traceback" not in error
    assert not (outcome.reports / "dr-report.pdf").exists()
