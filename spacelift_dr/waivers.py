"""Waivers: a known, accepted FAIL, with an owner, a reason and an expiry date.

The file is a YAML list; each entry has exactly ``requirement``, ``resource`` (a glob over the result's
resource), ``reason``, ``owner`` and ``expires`` (ISO date), and optionally ``installation`` (a glob over
the installation's name; without it the waiver covers every installation of the run). A waiver holds
through its expiry date (UTC). An unexpired match turns FAIL into WAIVED; an expired one leaves the FAIL
and names the waiver; a waiver that matched nothing is listed as stale, so the file does not rot silently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, ValidationError, field_validator

from .catalogue import catalogue
from .config import format_validation_error, read_yaml
from .errors import ConfigError


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requirement: StrictStr
    resource: Annotated[StrictStr, Field(min_length=1, max_length=2048)]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=4096)]
    owner: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    expires: dt.date
    installation: Annotated[StrictStr, Field(min_length=1, max_length=256)] | None = None

    @field_validator("requirement")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in catalogue():
            raise ValueError("a requirement ID of the catalogue, such as DR-OBJ-03")
        return value

    @field_validator("expires", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        # YAML turns 2026-12-31 into a date already; a string must be ISO too, not "31/12/2026".
        if isinstance(value, dt.datetime):
            raise ValueError("an ISO date such as 2026-12-31 (no time)")
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("an ISO date such as 2026-12-31") from None
        if not isinstance(value, dt.date):
            raise ValueError("an ISO date such as 2026-12-31")
        return value

    def covers(self, requirement: str, resource: str, installation: str) -> bool:
        return (self.requirement == requirement and fnmatchcase(resource, self.resource)
                and (self.installation is None or fnmatchcase(installation, self.installation)))

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def summary(self) -> dict[str, str]:
        found = {"requirement": self.requirement, "resource": self.resource, "reason": self.reason,
                 "owner": self.owner, "expires": self.expires.isoformat()}
        if self.installation is not None:
            found["installation"] = self.installation
        return found


_WAIVERS = TypeAdapter(list[Waiver])


def load_waivers(path: str | Path) -> list[Waiver]:
    source = str(path)
    data = read_yaml(path)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(source, "(top level)", "a list of waivers (requirement, resource, reason, owner, expires)",
                          type(data).__name__)
    try:
        return _WAIVERS.validate_python(data)
    except ValidationError as error:
        raise format_validation_error(source, error) from None


@dataclass
class WaiverBook:
    """The run's waivers and which of them matched a result."""

    waivers: list[Waiver] = field(default_factory=list)
    source: str | None = None
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    used: set[int] = field(default_factory=set)

    def find(self, requirement: str, resource: str, installation: str) -> Waiver | None:
        """The waiver for this FAIL: an unexpired one if any covers it, else an expired one, else None."""
        matches = [(i, w) for i, w in enumerate(self.waivers) if w.covers(requirement, resource, installation)]
        if not matches:
            return None
        for index, _ in matches:
            self.used.add(index)
        valid = [w for _, w in matches if not w.expired(self.today)]
        return valid[0] if valid else matches[0][1]

    def stale(self) -> list[Waiver]:
        return [w for i, w in enumerate(self.waivers) if i not in self.used]

    def report(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "today": self.today.isoformat(),
            "entries": [w.summary() for w in self.waivers],
            "stale": [w.summary() for w in self.stale()],
        }
