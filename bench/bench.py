"""Benchmark: wall time, API calls and peak memory of a suite run, with injected per-call latency.

Run by hand (not in CI): ``.venv/bin/python bench/bench.py [--latency-ms 50] [--quick]``. Each
measurement runs in a fresh process (so peak memory is that run's), against a moto server on loopback
seeded with the demo installation; the latency is added to every AWS request before it is sent, as a
slow network would. It prints one table row per size: concurrent (default) and serial (--dr-serial).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(installations: int, extra_buckets: int, latency_ms: int, serial: bool) -> dict[str, Any]:
    """One measurement, in this process: seed, run the suite once per installation, report figures."""
    import boto3

    from spacelift_dr.demo import DemoServer, seed
    from tests.scenario import run_checks

    server = DemoServer().start()

    def slow_network(**_: Any) -> None:
        time.sleep(latency_ms / 1000)

    totals = {"wall_s": 0.0, "calls": 0, "distinct": 0, "results": 0}
    try:
        for number in range(installations):
            server.reset()
            extra = {f"OBJECT_STORAGE_BUCKET_EXTRA_{i}": f"spacelift-extra-{i}-ab12c" for i in range(extra_buckets)}
            demo = seed(server.url, environment=extra)
            s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=server.url, aws_access_key_id="b",
                              aws_secret_access_key="b")
            for name in extra.values():
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            overrides = None
            if extra_buckets:
                installation = demo.config().model_dump(mode="json", exclude_defaults=True)["installation"]
                extra_kinds = [f"extra_{i}" for i in range(extra_buckets)]
                kinds = ["modules", "policy_inputs", "run_logs", "states", *extra_kinds]
                overrides = {"installation": {**installation, "critical_buckets": kinds}}
            args = ["--dr-serial"] if serial else []
            started = time.perf_counter()
            outcome = run_checks(demo, Path(tempfile.mkdtemp(prefix=f"bench-{number}-")), *args,
                                 overrides=overrides, hooks=[("before-send", slow_network)])
            totals["wall_s"] += time.perf_counter() - started
            calls = outcome.document["api_calls"]
            totals["calls"] += calls["total"]
            totals["distinct"] += calls["distinct"]
            totals["results"] += len(outcome.results)
    finally:
        server.stop()
    totals["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return totals


def measure(installations: int, extra_buckets: int, latency_ms: int, serial: bool) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--one", str(installations), str(extra_buckets),
                           str(latency_ms), "serial" if serial else "concurrent"],
                          capture_output=True, text=True, cwd=ROOT, timeout=7200)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"measurement failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        installations, extra, latency, mode = options.one
        print(json.dumps(one(int(installations), int(extra), int(latency), mode == "serial")))
        return
    sizes = [(1, 0), (10, 0), (1, 10), (1, 100)] if options.quick else \
        [(1, 0), (10, 0), (50, 0), (1, 10), (1, 100), (1, 1000)]
    print(f"latency per call: {options.latency_ms} ms")
    print("| installations | extra buckets | results | calls total | calls distinct | wall s | serial wall s "
          "| serial/concurrent | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for installations, extra in sizes:
        concurrent = measure(installations, extra, options.latency_ms, serial=False)
        serial: dict[str, Any] | None = None
        if installations * max(extra, 1) <= 100:  # the serial run of the largest sizes takes too long
            serial = measure(installations, extra, options.latency_ms, serial=True)
        ratio = f"{serial['wall_s'] / concurrent['wall_s']:.1f}x" if serial else "not run"
        print(f"| {installations} | {extra} | {concurrent['results']} | {concurrent['calls']} | "
              f"{concurrent['distinct']} | {concurrent['wall_s']:.2f} | "
              f"{serial['wall_s']:.2f} | " if serial else f"| {installations} | {extra} | {concurrent['results']} | "
              f"{concurrent['calls']} | {concurrent['distinct']} | {concurrent['wall_s']:.2f} | — | ", end="")
        print(f"{ratio} | {concurrent['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
