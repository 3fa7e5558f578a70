"""Verdicts, the evidence each carries, and the run they belong to."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .catalogue import Requirement, requirement


class Status(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NA = "N/A"
    WAIVED = "WAIVED"


STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.WAIVED, Status.PASS, Status.NA)


class NotApplicable(Exception):
    """The requirement does not apply; the reason names the setting that made it so."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    return (moment or utc_now()).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Evidence:
    """What a check observed, gathered while it runs. Redacted before it is written anywhere."""

    requirement: Requirement
    resource: str | None = None
    region: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # what a PASS says; FAIL says its assertion message

    def observed(self, **values: Any) -> None:
        """Record observed values (the relevant fields of the API response, never the whole one)."""
        self.values.update(values)

    def about(self, resource: str, region: str | None = None) -> None:
        """Name the resource (ARN or name) and region the verdict is about."""
        self.resource = resource
        if region is not None:
            self.region = region


@dataclass
class Result:
    """One verdict on one requirement for one resource: a row of every report."""

    requirement: Requirement
    resource: str
    region: str | None
    status: Status
    message: str
    evidence: dict[str, Any]
    actions: list[dict[str, str]]
    test: str
    timestamp: str
    installation: str = ""
    waiver: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.requirement.id}:{self.resource}"

    def to_json(self) -> dict[str, Any]:
        req = self.requirement
        data = {
            "id": self.id,
            "requirement": req.id,
            "title": req.title,
            "category": req.category,
            "area": req.area,
            "severity": req.severity,
            "resource": self.resource,
            "region": self.region,
            "status": str(self.status),
            "message": self.message,
            "expected": req.expected,
            "evidence": self.evidence,
            "actions": self.actions,
            "remediation": req.remediation,
            "source": {"document": req.source_document, "section": req.source_section},
            "controls": {k: list(v) for k, v in req.controls.items()},
            "timestamp": self.timestamp,
            "installation": self.installation,
            "test": self.test,
        }
        if self.waiver is not None:
            data["waiver"] = self.waiver
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """The result :meth:`to_json` wrote (an xdist worker's, read back by the controller)."""
        return cls(requirement=requirement(data["requirement"]), resource=data["resource"], region=data["region"],
                   status=Status(data["status"]), message=data["message"], evidence=data["evidence"],
                   actions=data["actions"], test=data["test"], timestamp=data["timestamp"],
                   installation=data["installation"], waiver=data.get("waiver"))


RECOVERY_POINT_REQUIREMENTS = ("DR-DB-09", "DR-OBJ-07")


def recovery_points_of(results: Iterable[Result | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The recovery-point table: one row per measured-RPO result (DR-DB-09, DR-OBJ-07) whose evidence
    carries ``recovery_point`` = {component, mechanism, measured_seconds, measured, target_seconds}.

    Rows: component, requirement, resource, mechanism, measured_seconds (float or None when nothing could be
    measured), measured (the figure as a person reads it), target_seconds, status, previous_seconds (None:
    a run knows no earlier figure; the report fills it from a baseline's ``recovery_points``). Results are
    :class:`Result` objects or their JSON (``to_json``)."""
    rows = []
    for result in results:
        if isinstance(result, Result):
            requirement_id, resource, status, evidence = (result.requirement.id, result.resource,
                                                          str(result.status), result.evidence)
        else:
            requirement_id, resource, status, evidence = (str(result.get("requirement")), str(result.get("resource")),
                                                          str(result.get("status")), result.get("evidence") or {})
        point = evidence.get("recovery_point") if isinstance(evidence, Mapping) else None
        if requirement_id not in RECOVERY_POINT_REQUIREMENTS or not isinstance(point, Mapping):
            continue
        measured = point.get("measured_seconds")
        rows.append({
            "component": str(point.get("component") or resource),
            "requirement": requirement_id,
            "resource": resource,
            "mechanism": str(point.get("mechanism") or "—"),
            "measured_seconds": float(measured) if isinstance(measured, int | float) else None,
            "measured": str(point.get("measured") or "not measured"),
            "target_seconds": point.get("target_seconds"),
            "status": status,
            "previous_seconds": None,
        })
    return rows
