"""The requirement catalogue: one entry per requirement ID of REQUIREMENTS.md, kept in catalogue.yaml.

Every check names exactly one ID; title, category, severity, rationale, remediation, source section and
framework controls come from here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

CATEGORIES = ("stateless", "stateful", "encryption", "broker", "continuity")
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    category: str
    area: str
    severity: str
    live: bool
    expected: str
    not_applicable_when: str | None
    rationale: str
    remediation: str
    source_document: str
    source_section: str
    controls: dict[str, tuple[str, ...]]

    @property
    def source(self) -> str:
        return f"{self.source_document}, section “{self.source_section}”"

    def control_labels(self) -> list[str]:
        names = {"nist_800_53": "NIST 800-53", "iso_27001": "ISO 27001", "soc2": "SOC 2"}
        return [f"{names.get(framework, framework)} {control}"
                for framework, controls in self.controls.items() for control in controls]


def _requirement(entry: dict[str, Any]) -> Requirement:
    return Requirement(
        id=entry["id"],
        title=entry["title"],
        category=entry["category"],
        area=entry["area"],
        severity=entry["severity"],
        live=bool(entry["live"]),
        expected=" ".join(str(entry["expected"]).split()),
        not_applicable_when=entry.get("not_applicable_when"),
        rationale=" ".join(str(entry["rationale"]).split()),
        remediation=" ".join(str(entry["remediation"]).split()),
        source_document=entry["source"]["document"],
        source_section=entry["source"]["section"],
        controls={k: tuple(str(c) for c in v) for k, v in entry["controls"].items()},
    )


@cache
def catalogue() -> dict[str, Requirement]:
    """All requirements by ID, in catalogue order."""
    text = resources.files("spacelift_dr").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    # libyaml's safe loader when PyYAML has it (some 10x faster on this, the largest file every run reads).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    entries = yaml.load(text, Loader=loader)["requirements"]
    return {entry["id"]: _requirement(entry) for entry in entries}


def requirement(requirement_id: str) -> Requirement:
    try:
        return catalogue()[requirement_id]
    except KeyError:
        raise KeyError(f"{requirement_id} is not in the requirement catalogue") from None


# Requirements of the catalogue that no check implements yet. The report lists them as not
# evaluated, so a reader never mistakes a missing check for a passing one.
NOT_YET_IMPLEMENTED: frozenset[str] = frozenset({
})
