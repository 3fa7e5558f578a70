"""State-locking facts (DR-CON-09): how a ``backend "s3"`` locks, and whether that lock survives the loss of
the primary region.

Terraform's S3 backend locks with a lock file in the state bucket (``use_lockfile = true``), with a DynamoDB
table (``dynamodb_table``), or both (then it takes both locks). A lock file lives beside the state and goes
where the state's replica goes; a DynamoDB table is regional unless it is a global table with a replica in
the backup region (``DescribeTable`` → ``Replicas``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import AwsAccess
from ..errors import Unobservable
from .terraform import RootModule


@dataclass(frozen=True)
class StateLocking:
    """How one root module's ``backend "s3"`` locks, from its literal settings."""

    module: str
    lockfile: bool
    table: str | None
    region: str | None  # the backend's region setting (the table's region)

    @classmethod
    def of(cls, module: RootModule) -> StateLocking | None:
        """None when the module has no ``backend "s3"``. A lock setting given as an expression is
        unobservable: it may name a table."""
        backend = module.backend
        if backend is None or backend.type != "s3":
            return None
        given = dict(backend.settings)
        for name in ("dynamodb_table", "use_lockfile"):
            if name in given and given[name] is None:
                raise Unobservable("terraform:backend", module.name,
                                   f"its backend \"s3\" sets {name} with an expression, which the suite does not "
                                   f"evaluate")
        table = given.get("dynamodb_table")
        region = given.get("region")
        return cls(module.name, _true(given.get("use_lockfile")), str(table) if table else None,
                   str(region) if region else None)

    @property
    def locks(self) -> bool:
        return self.lockfile or self.table is not None

    def summary(self) -> dict[str, Any]:
        return {"use_lockfile": self.lockfile, "dynamodb_table": self.table, "region": self.region}


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass(frozen=True)
class LockTable:
    """``DescribeTable`` of a lock table: its status and its global-table replicas."""

    name: str
    region: str
    status: str
    replicas: tuple[tuple[str, str], ...]  # (RegionName, ReplicaStatus)

    @classmethod
    def from_api(cls, table: dict[str, Any], region: str) -> LockTable:
        return cls(name=str(table.get("TableName", "")), region=region, status=str(table.get("TableStatus", "")),
                   replicas=tuple((str(r.get("RegionName", "")), str(r.get("ReplicaStatus", "not reported")))
                                  for r in table.get("Replicas") or []))

    def replica_status(self, region: str) -> str | None:
        return next((status for where, status in self.replicas if where == region), None)

    def problem_in(self, backup: str) -> str | None:
        """Why break-glass runs in ``backup`` could not take this lock; None when they can."""
        if self.region == backup:
            return None if self.status == "ACTIVE" else f"lock table {self.name} in {backup} is {self.status}"
        status = self.replica_status(backup)
        if status is None:
            regions = ", ".join(r for r, _ in self.replicas) or "no other region"
            return (f"lock table {self.name} lives only in {self.region} (replicas: {regions}): without the primary "
                    f"region, runs would need -lock=false")
        if status != "ACTIVE":
            return f"lock table {self.name}'s replica in {backup} is {status}"
        return None

    def summary(self) -> dict[str, Any]:
        return {"TableName": self.name, "Region": self.region, "TableStatus": self.status,
                "Replicas": [{"RegionName": r, "ReplicaStatus": s} for r, s in self.replicas]}


class LockFacts:
    """``dynamodb:DescribeTable`` per lock table, once per run."""

    def __init__(self, aws: AwsAccess, home_region: str) -> None:
        self._aws = aws
        self._home = home_region

    def table(self, locking: StateLocking) -> LockTable | None:
        """The lock table, or None when it does not exist."""
        assert locking.table is not None
        region = locking.region or self._home
        response = self._aws.call("dynamodb", region, "DescribeTable", resource=f"{locking.table} in {region}",
                                  absent=("ResourceNotFoundException",), TableName=locking.table)
        if response is None:
            return None
        return LockTable.from_api(response.get("Table") or {}, region)
