"""Concurrent prefetch changes nothing but the wall time: same verdicts, evidence and calls as serial."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from spacelift_dr.demo import DEMO_GAPS, DemoServer, seed
from spacelift_dr.prefetch import PrefetchPool, PrefetchReport, Thunk, concurrently
from tests.scenario import run_checks, run_fleet


def _comparable(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Timestamps and ages measured against the clock (e.g. "restorable to 0.0 min ago", DR-DB-02's
    # LatestRestorableTime and observed_at, which differ when the two runs straddle a minute) differ between
    # two runs whatever the mode; every other field must be identical.
    def steady(value: Any) -> Any:
        text = re.sub(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", "<time>",
                      json.dumps(value, sort_keys=True))
        return re.sub(r"\d+\.\d+", "<n>", text)

    return sorted(({k: steady(v) for k, v in r.items() if k != "timestamp"} for r in results),
                  key=lambda r: r["id"])


def test_concurrent_and_serial_runs_give_identical_results(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, DEMO_GAPS)
    concurrent = run_checks(demo, tmp_path / "concurrent")
    serial = run_checks(demo, tmp_path / "serial", "--dr-serial")
    assert concurrent.document["prefetch"]["thunks"] > 0
    assert serial.document["prefetch"] is None
    assert _comparable(concurrent.results) == _comparable(serial.results)
    calls_concurrent, calls_serial = concurrent.document["api_calls"], serial.document["api_calls"]
    assert calls_concurrent["by_action"] == calls_serial["by_action"]
    assert calls_concurrent["total"] == calls_concurrent["distinct"], "no read is made twice"


def test_serial_and_concurrent_runs_over_several_installations_agree(moto: DemoServer, tmp_path: Path) -> None:
    demos = {"prod": seed(moto.url, DEMO_GAPS), "stage": seed(moto.url, (), account="111111111111", suffix="cd34e")}
    concurrent = run_fleet(demos, tmp_path / "concurrent")
    serial = run_fleet(demos, tmp_path / "serial", "--dr-serial")
    for name in demos:
        fast, slow = concurrent.per_installation[name], serial.per_installation[name]
        assert fast.document["prefetch"]["thunks"] > 0
        assert slow.document["prefetch"] is None
        assert _comparable(fast.results) == _comparable(slow.results)
        assert fast.document["api_calls"]["by_action"] == slow.document["api_calls"]["by_action"]


def prefetch(thunks: list[Thunk]) -> PrefetchReport:
    pool = PrefetchPool()
    try:
        pool.submit("installation", thunks)
        return pool.wait("installation")
    finally:
        pool.close()


def test_prefetch_runs_independent_reads_side_by_side() -> None:
    def slow() -> None:
        time.sleep(0.2)

    started = time.perf_counter()
    report = prefetch([slow] * 8)
    assert report.thunks == 8
    assert time.perf_counter() - started < 0.2 * 8 / 2, "eight 0.2 s reads should overlap"

    started = time.perf_counter()
    concurrently([slow] * 4)
    assert time.perf_counter() - started < 0.2 * 4 / 2


def test_a_failing_thunk_is_left_to_the_check() -> None:
    def broken() -> None:
        raise RuntimeError("denied")

    assert prefetch([broken]).thunks == 1  # no exception escapes: the run cache holds the check's ERROR
