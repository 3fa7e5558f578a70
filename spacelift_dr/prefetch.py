"""Concurrent reads before the checks: wall time follows the longest chain of dependent reads, not the
sum of all reads. The checks then find every fact in the run cache, so verdicts and evidence are those
of a serial run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

Thunk = Callable[[], object]

MAX_WORKERS = 32


@dataclass
class PrefetchReport:
    thunks: int
    seconds: float


def _quietly(thunk: Thunk) -> None:
    try:
        thunk()
    except Exception:  # the run cache keeps an Unobservable; the check reports it as ERROR
        return


def concurrently(thunks: Iterable[Thunk]) -> None:
    """Run dependent reads' independent branches side by side inside a thunk (bounded, nested-safe)."""
    chosen = list(thunks)
    if len(chosen) <= 1:
        for thunk in chosen:
            _quietly(thunk)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(chosen)), thread_name_prefix="dr-branch") as pool:
        for future in [pool.submit(_quietly, thunk) for thunk in chosen]:
            future.result()


class PrefetchPool:
    """Reads submitted ahead of the checks, in groups (one per installation). A group's :meth:`wait`
    returns once all its reads are done; the checks then find them in the run cache. Groups submitted
    ahead keep their reads in flight while earlier groups' checks run."""

    def __init__(self, workers: int = MAX_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dr-prefetch")
        self._groups: dict[str, tuple[float, list[Future[None]]]] = {}

    def submitted(self, group: str) -> bool:
        return group in self._groups

    def submit(self, group: str, thunks: Iterable[Thunk]) -> None:
        self._groups[group] = (time.perf_counter(), [self._pool.submit(_quietly, thunk) for thunk in thunks])

    def wait(self, group: str) -> PrefetchReport:
        started, futures = self._groups[group]
        for future in futures:
            future.result()
        return PrefetchReport(len(futures), time.perf_counter() - started)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
