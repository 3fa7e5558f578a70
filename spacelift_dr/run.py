"""One run of the suite: its config, AWS access, redactor, the installation and the results so far."""

from __future__ import annotations

import ctypes
import gc
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__
from .aws import AwsAccess, remember
from .catalogue import NOT_YET_IMPLEMENTED, catalogue
from .compare import previous_recovery_seconds, since_last_run
from .discovery import build_installation
from .errors import Unobservable
from .facts.s3 import BucketFacts
from .installation import Installation
from .redaction import Redactor
from .results import Result, Status, recovery_points_of, timestamp, utc_now

if TYPE_CHECKING:  # the config models (pydantic) load with the first config; `pytest --help` does without
    from .config import Config
    from .waivers import WaiverBook

T = TypeVar("T")


def _no_waivers() -> WaiverBook:
    from .waivers import WaiverBook

    return WaiverBook()


@dataclass
class Run:
    config: Config
    aws: AwsAccess
    reports_dir: Path
    redactor: Redactor = field(default_factory=Redactor)
    demo: bool = False
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    results: list[Result] = field(default_factory=list)
    identity: dict[str, str] = field(default_factory=dict)
    identity_error: str | None = None
    config_digest: str = ""
    complete: bool = False
    notes: list[str] = field(default_factory=list)
    waivers: WaiverBook = field(default_factory=lambda: _no_waivers())
    prefetch: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    baseline_source: str = ""
    _frozen_calls: dict[str, Any] | None = None
    _memo: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.buckets = BucketFacts(self.aws, self.config.installation.primary_region)

    @property
    def observed_at(self) -> datetime:
        """The end of every metric window of the run (whole minutes): the same read is the same request."""
        return self.buckets.observed_at

    def memo(self, key: str, make: Callable[[], T], close: Callable[[T], None] | None = None) -> T:
        """One ``make()`` per run: the facts objects the fixtures share (they are per installation, so
        they live with the run rather than in session-scoped fixtures)."""
        def made() -> T:
            value = make()
            if close is not None:
                self._closers.append(lambda: close(value))
            return value

        return remember(self._memo, key, made)

    def freeze_call_counts(self) -> None:
        """The figures every output shows from now on (reads after this are not the verdicts')."""
        self._frozen_calls = self.aws.calls.summary()

    def api_calls(self) -> dict[str, Any]:
        return self._frozen_calls if self._frozen_calls is not None else self.aws.calls.summary()

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def release(self) -> None:
        """Its checks are done: close what it opened and free its facts, clients and cache."""
        self.close()
        self._memo.clear()
        self.buckets = BucketFacts(self.aws, self.config.installation.primary_region)
        self.aws.release()
        return_free_memory()

    @property
    def name(self) -> str:
        return self.config.installation.name

    def installation(self) -> Installation:
        """The discovered installation; raises the discovery failure for every check that needs it."""
        # Discovery happens once, often during collection; every check that asks for the installation
        # rests on it, so its reads are part of that check's evidence (see aws.remember).
        return remember(self._memo, "installation", self._discover)

    def _discover(self) -> Installation:
        # Discovery's reads are not the installation's: they join a check's evidence when it uses the
        # discovered services (installation.DiscoveredServices), not when it only reads the config's regions.
        installation = build_installation(self.config, self.aws)
        if installation.discovery_error is not None:
            self.notes.append(f"Discovery failed ({installation.discovery_error}): only the settings declared in "
                              f"the config (installation.settings) were available to the checks.")
        self._learn_secrets(installation)
        return installation

    def discovered(self) -> Installation | None:
        """The installation if discovery has run and succeeded; never starts discovery (the report asks)."""
        entry = self._memo.get("installation")
        value = getattr(entry, "value", None)
        return value if isinstance(value, Installation) else None

    def installation_or_none(self) -> Installation | None:
        """The installation when discovery succeeded (what collection parametrizes over), else None."""
        try:
            installation = self.installation()
        except Unobservable:
            return None
        return None if installation.discovery_error is not None else installation

    def _learn_secrets(self, installation: Installation) -> None:
        # Straight from the task definitions: these lookups are no check's evidence.
        for service in ([] if installation.discovery_error else dict.values(installation.services)):
            for name, setting in service.settings().items():
                self.redactor.add_setting(name, setting.value)
        for name, value in installation.explicit_settings.items():
            self.redactor.add_setting(name, value)

    def observe_identity(self) -> None:
        region = self.config.installation.primary_region
        try:
            # The run's first read, made quickly: a dead endpoint or refused credentials trip the breakers
            # here, once, instead of in every check (spacelift_dr.aws).
            response = self.aws.call("sts", region, "GetCallerIdentity", resource="caller", preflight=True)
            assert response is not None
            account, arn = response.get("Account"), response.get("Arn")
            if not isinstance(account, str) or not account or not isinstance(arn, str):
                raise Unobservable("sts:GetCallerIdentity", "caller", "incomplete answer (no Account or Arn)")
            self.identity = {"account": account, "arn": arn}
        except Unobservable as error:
            self.identity = {}
            self.identity_error = str(error)

    def account_mismatch(self) -> str | None:
        """Why the run must not go on: the credentials are another account's, or, with
        ``installation.account_id`` set, whose they are cannot be verified (the guard never fails open)."""
        expected = self.config.installation.account_id
        actual = self.identity.get("account")
        if expected and not actual:
            return (f"installation {self.name}: installation.account_id is {expected} but the AWS account of the "
                    f"credentials could not be verified ({self.identity_error}); refusing to run unverified")
        if expected and actual and expected != actual:
            return (f"installation.account_id is {expected} but the AWS credentials belong to account {actual} "
                    f"({self.identity.get('arn')}); refusing to check the wrong account")
        return None

    # -- outputs -----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return counts_of(self.results)

    def metadata(self) -> dict[str, Any]:
        section = self.config.installation
        return {
            "installation": section.name,
            # Only an observed identity names the account; a configured one is never shown as if it were.
            "account": self.identity.get("account")
            or f"unverified ({self.identity_error or 'caller identity not read'})",
            "caller_arn": self.identity.get("arn") or f"unknown ({self.identity_error})",
            "primary_region": section.primary_region,
            "backup_region": section.backup_region,
            "suite_version": __version__,
            "config_source": "embedded demo" if self.demo else self.config.source,
            "config_digest": self.config_digest,
            "started_at": timestamp(self.started_at),
            "finished_at": timestamp(self.finished_at) if self.finished_at else None,
        }

    def since_last_run(self) -> dict[str, Any] | None:
        if self.baseline is None:
            return None
        return since_last_run(self.baseline, [r.to_json() for r in self.results], self.baseline_source)

    def recovery_points(self) -> list[dict[str, Any]]:
        """Per stateful component, its measured recovery point in the backup region (and the baseline's)."""
        previous = previous_recovery_seconds(self.baseline)
        rows = recovery_points_of(self.results)
        for row in rows:
            row["previous_seconds"] = previous.get(f"{row['requirement']}:{row['resource']}")
        return rows

    def summary_by(self, key: str) -> dict[str, dict[str, int]]:
        return summary_of(self.results, key)

    def document_header(self) -> dict[str, Any]:
        metadata = self.metadata()
        return {
            "suite": {"name": "spacelift-dr", "version": __version__},
            "installation": {
                "name": self.name,
                "account": metadata["account"],
                "caller_arn": metadata["caller_arn"],
                "primary_region": self.config.installation.primary_region,
                "backup_region": self.config.installation.backup_region,
                "config_digest": self.config_digest,
                "demo": self.demo,
            },
        }

    def document(self) -> dict[str, Any]:
        """dr-results.json: every result with its evidence, for diffing runs and for other tools."""
        evaluated = {r.requirement.id for r in self.results}
        return self.redactor.value({
            **self.document_header(),
            "started_at": timestamp(self.started_at),
            "finished_at": timestamp(self.finished_at or utc_now()),
            "complete": self.complete,
            "api_calls": self.api_calls(),
            "prefetch": self.prefetch,
            "summary": self.counts(),
            "summary_by_category": self.summary_by("category"),
            "summary_by_control": self.summary_by("control"),
            "since_last_run": self.since_last_run(),
            "recovery_points": self.recovery_points(),
            "not_implemented": sorted(NOT_YET_IMPLEMENTED),
            "not_selected": sorted(set(catalogue()) - evaluated - NOT_YET_IMPLEMENTED),
            "notes": self.notes,
            "waivers": self.waivers.report(),
            "results": [r.to_json() for r in self.results],
        })



def counts_of(results: Iterable[Result]) -> dict[str, int]:
    """Results per status (every status present, zero or not)."""
    counts = {str(status): 0 for status in Status}
    for result in results:
        counts[str(result.status)] += 1
    return counts


def summary_of(results: Iterable[Result], key: str) -> dict[str, dict[str, int]]:
    """Counts per status for each category (``key="category"``) or framework control (``"control"``)."""
    table: dict[str, dict[str, int]] = {}
    for result in results:
        labels = [result.requirement.category] if key == "category" else result.requirement.control_labels()
        for label in labels:
            row = table.setdefault(label, {str(s): 0 for s in Status})
            row[str(result.status)] += 1
    return dict(sorted(table.items()))


def return_free_memory() -> None:
    """Collect now (botocore clients hold reference cycles) and give the heap's free pages back to the
    system (glibc), so that a run over many installations keeps the footprint of the few in flight."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Before the reader threads start: glibc gives each thread a heap of its own (up to 8 per core), and
    each keeps the pages its reads once touched; two shared heaps hold a run some 10 MB smaller. The GIL
    serialises the threads' allocations anyway."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        return


def digest_of(path: str | Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
