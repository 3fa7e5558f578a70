"""The requirement catalogue is the specification's twin: every ID, once, and every check names one."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from spacelift_dr.catalogue import CATEGORIES, NOT_YET_IMPLEMENTED, SEVERITIES, catalogue

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "REQUIREMENTS.md"


def implemented_requirements() -> dict[str, list[str]]:
    """Requirement ID → the checks that carry it, read from the check modules' markers."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "checks").glob("test_*.py")):
        module = importlib.import_module(f"checks.{path.stem}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "requirement":
                    found.setdefault(mark.args[0], []).append(f"{path.stem}.{name}")
    return found


def test_catalogue_entries_are_complete() -> None:
    entries = catalogue()
    assert len(entries) == 49
    for entry in entries.values():
        assert re.fullmatch(r"DR-[A-Z]{2,3}-[0-9]{2}", entry.id)
        assert entry.category in CATEGORIES
        assert entry.severity in SEVERITIES
        assert entry.title
        assert entry.expected
        assert entry.rationale
        assert entry.remediation
        assert entry.source_section
        assert entry.controls.get("nist_800_53")
        assert entry.controls.get("iso_27001")
        assert entry.controls.get("soc2")


@pytest.mark.skipif(not SPEC.exists(), reason="shared/REQUIREMENTS.md is not beside this checkout")
def test_catalogue_has_exactly_the_ids_of_the_specification() -> None:
    spec_ids = re.findall(r"^\| (DR-[A-Z]{2,3}-[0-9]{2}) \|", SPEC.read_text(encoding="utf-8"), re.MULTILINE)
    assert list(catalogue()) == spec_ids


def test_every_requirement_is_implemented_or_listed_as_not_yet() -> None:
    # A requirement with two parts (e.g. DR-CON-01: code directories and API stacks) may have a check per
    # part; their results stay apart by resource (result ids are unique: see test_demo_run).
    implemented = implemented_requirements()
    unknown = set(implemented) - set(catalogue())
    assert not unknown, f"checks name IDs outside the catalogue: {sorted(unknown)}"
    both = set(implemented) & NOT_YET_IMPLEMENTED
    assert not both, f"implemented but still listed as not yet implemented: {sorted(both)}"
    neither = set(catalogue()) - set(implemented) - NOT_YET_IMPLEMENTED
    assert not neither, f"neither implemented nor listed as not yet implemented: {sorted(neither)}"


def test_live_requirements_are_the_ones_the_specification_marks_live() -> None:
    live = {entry.id for entry in catalogue().values() if entry.live}
    assert live == {"DR-DB-06", "DR-DB-07", "DR-DB-08", "DR-CON-08"}
