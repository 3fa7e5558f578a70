"""The report on paper: the system's Chromium prints dr-report.html to dr-report.pdf.

Chromium runs headless with a throw-away profile, without its own header and footer (the report's
print stylesheet sets the page headers: installation, date, page numbers) and with every background
service off; the page itself loads nothing from the network. No browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 600


class PdfError(Exception):
    """Chromium could not print the report (the message says why)."""


def find_chromium() -> str | None:
    """The system's Chromium: on PATH, or Debian's /usr/bin/chromium."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def print_to_pdf(chromium: str, html: Path, pdf: Path, timeout: float = TIMEOUT_SECONDS) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium; the PDF replaces any earlier one only when whole."""
    partial = pdf.with_name(pdf.name + ".partial")
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="dr-chromium-") as profile:
        command = [
            chromium, "--headless", "--disable-gpu", "--no-pdf-header-footer", f"--user-data-dir={profile}",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--no-first-run", "--disable-breakpad",
            "--run-all-compositor-stages-before-draw", f"--print-to-pdf={partial}", html.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise PdfError(f"{chromium} did not finish printing {html.name} within {timeout:.0f} s") from None
        except OSError as error:
            raise PdfError(f"cannot start {chromium}: {error.strerror or error}") from None
    if done.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PdfError(f"{chromium} exited {done.returncode} printing {html.name}: {last}")
    partial.replace(pdf)
    return pdf
