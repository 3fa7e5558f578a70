"""Concurrent reads before the checks: wall time follows the longest chain of dependent reads, not the
sum of all reads. The checks then find every fact in the run cache, so verdicts and evidence are those
of a serial run."""

from __future__ import annotations

import queue
import threading
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
    ahead keep their reads in flight while earlier groups' checks run.

    Its workers are daemon threads: after Ctrl-C (``close(wait=False)``) the process does not wait for
    reads still in flight, as it would for a ThreadPoolExecutor's threads at exit."""

    def __init__(self, workers: int = MAX_WORKERS) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[None], Thunk] | None] = queue.SimpleQueue()
        self._groups: dict[str, tuple[float, list[Future[None]]]] = {}
        self._workers = [threading.Thread(target=self._work, name=f"dr-prefetch-{n}", daemon=True)
                         for n in range(workers)]
        for worker in self._workers:
            worker.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, thunk = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                _quietly(thunk)
            except BaseException as error:  # handed to whoever waits for it
                future.set_exception(error)
            else:
                future.set_result(None)

    def submitted(self, group: str) -> bool:
        return group in self._groups

    def submit(self, group: str, thunks: Iterable[Thunk]) -> None:
        futures: list[Future[None]] = []
        for thunk in thunks:
            future: Future[None] = Future()
            self._jobs.put((future, thunk))
            futures.append(future)
        self._groups[group] = (time.perf_counter(), futures)

    def wait(self, group: str) -> PrefetchReport:
        started, futures = self._groups[group]
        for future in futures:
            future.result()
        return PrefetchReport(len(futures), time.perf_counter() - started)

    def close(self, wait: bool = True) -> None:
        """Stop the workers: after the reads in flight (``wait``), or at once, dropping queued ones."""
        if not wait:
            for _, futures in self._groups.values():
                for future in futures:
                    future.cancel()
        for _ in self._workers:
            self._jobs.put(None)
        if wait:
            for worker in self._workers:
                worker.join()
