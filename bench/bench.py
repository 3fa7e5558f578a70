"""Benchmark: wall time, API calls and peak memory of the suite over growing installations.

Run by hand (not in CI): ``.venv/bin/python bench/bench.py`` prints each target of issue 18 beside its
measured value: start-up (``pytest --help`` against ``pytest --version``), the demo-sized run, ``-m
encryption``, the latency overhead, peak memory of one and of 50 installations. Runs alternate (one of each
per round), so the machine's load weighs on all of them alike; each figure is the median with its spread
(min–max) and the CPU seconds the suite's process used (steadier than wall time on a shared machine).
``--table`` adds the growth table (1, 10, 50 installations; 10, 100, 1000 extra buckets).

One moto server on loopback holds every installation, each in an AWS account of its own (the demo's
seeders, with the bucket names made unique). A loopback proxy in front of it holds every request for
the given latency before forwarding it, as a distant AWS endpoint would. The suite runs as a user runs
it, in a process of its own: ``pytest --dr-config=<config listing the installations>`` with
``AWS_ENDPOINT_URL`` pointing at the proxy and an AWS profile per installation. Peak memory is that
process's. The rows: 1, 10 and 50 installations; one installation with 10, 100 and 1000 extra critical
buckets and as many extra deployment roles. Each size runs concurrently (default) and with
``--dr-serial``; the verdicts are not the point (moto's known gaps fail some checks without the demo's
replays), the reads are.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The suite as a user runs it, then its peak RSS: VmHWM, the high-water mark of this process's own memory
# (ru_maxrss would include the benchmark's moto server, inherited at fork).
SUITE = """
import json, sys
import pytest
code = pytest.main(sys.argv[2:])
status = open("/proc/self/status").read()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
open(sys.argv[1], "w").write(json.dumps({"exit": int(code), "peak_rss_mb": peak}))
"""
# A user's machine keeps bytecode caches (pip writes them for the libraries, Python and pytest for the suite's
# own modules); a benchmark run under PYTHONDONTWRITEBYTECODE would compile the suite on every start.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class LatencyProxy:
    """Forwards every request to ``target`` after sleeping ``latency`` seconds (loopback only)."""

    def __init__(self, target: str, latency: float) -> None:
        host, port = target.removeprefix("http://").split(":")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                return

            def _forward(self) -> None:
                time.sleep(latency)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(host, int(port), timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def seed_installations(url: str, count: int, extra: int) -> tuple[list[dict[str, Any]], str]:
    """Seed ``count`` installations, each with ``extra`` more critical buckets and deployment roles; their
    configs and the shared credentials file's text."""
    import boto3

    from spacelift_dr.demo import DEMO_GAPS, seed
    from spacelift_dr.demo.context import ACCOUNT

    entries, profiles = [], []
    for number in range(count):
        account = ACCOUNT if number == 0 else f"{100000000000 + number:012d}"
        suffix = "ab12c" if number == 0 else f"i{number:04d}"
        buckets = {f"OBJECT_STORAGE_BUCKET_EXTRA_{i}": f"spacelift-extra-{i}-{suffix}" for i in range(extra)}
        demo = seed(url, DEMO_GAPS, environment=buckets, account=account, suffix=suffix)
        credentials = demo.context.credentials
        s3 = boto3.client("s3", region_name=demo.context.primary, endpoint_url=url, **credentials)
        iam = boto3.client("iam", region_name=demo.context.primary, endpoint_url=url, **credentials)
        for bucket in buckets.values():
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": demo.context.primary})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})
        roles = [iam.create_role(RoleName=f"spacelift-deploy-extra-{i}-{suffix}",
                                 AssumeRolePolicyDocument=trust)["Role"]["Arn"] for i in range(extra)]
        name = f"installation-{number:02d}"
        data = demo.config(name).model_dump(mode="json", exclude_defaults=True)
        data["installation"]["aws_profile"] = name
        if extra:
            kinds = ["modules", "policy_inputs", "run_logs", "states", *(f"extra_{i}" for i in range(extra))]
            data["installation"]["critical_buckets"] = kinds
            data["continuity"]["deployment_roles"] = [*data["continuity"]["deployment_roles"], *roles]
        entries.append(data)
        profiles.append(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in credentials.items()))
    return entries, "".join(profiles)


def run_suite(folder: Path, endpoint: str, serial: bool, *extra: str) -> dict[str, Any]:
    reports = folder / ("serial" if serial else "concurrent")
    figures = folder / f"figures-{'serial' if serial else 'concurrent'}.json"
    figures.unlink(missing_ok=True)
    env = {**CHILD_ENV, "AWS_ENDPOINT_URL": endpoint, "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
           "AWS_CONFIG_FILE": os.devnull, "AWS_DEFAULT_REGION": "eu-west-1"}
    env.pop("AWS_PROFILE", None)
    args = [f"--dr-config={folder / 'installations.yaml'}", f"--dr-reports={reports}", "-q", "-p", "no:randomly",
            "-p", "no:cacheprovider", *(["--dr-serial"] if serial else []), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SUITE, str(figures), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not figures.exists():
        raise SystemExit(f"suite run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    measured = json.loads(figures.read_text(encoding="utf-8"))
    index = reports / "dr-installations.json"
    documents = ([json.loads((reports / e["results_file"]).read_text(encoding="utf-8"))
                  for e in json.loads(index.read_text(encoding="utf-8"))["installations"]] if index.exists()
                 else [json.loads((reports / "dr-results.json").read_text(encoding="utf-8"))])
    return {"wall_s": wall, "cpu_s": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
            "peak_rss_mb": measured["peak_rss_mb"],
            "results": sum(len(d["results"]) for d in documents),
            "calls": sum(d["api_calls"]["total"] for d in documents),
            "distinct": sum(d["api_calls"]["distinct"] for d in documents)}


def measure(installations: int, extra: int, latency_ms: int, serial: bool) -> dict[str, Any]:
    """Run the suite once concurrently, and once serially if asked, each on a freshly seeded server: moto's
    answers depend on earlier reads (a described KMS replica turns its primary into a REPLICA), so a second
    run on the same server would not read the same installation."""
    row: dict[str, Any] = {"installations": installations, "extra": extra, "serial": None}
    for mode in ("concurrent", "serial") if serial else ("concurrent",):
        row[mode] = _measure_once(installations, extra, latency_ms, mode == "serial")
    return row


def _measure_once(installations: int, extra: int, latency_ms: int, serial: bool) -> dict[str, Any]:
    import yaml

    from spacelift_dr.demo import DemoServer

    server = DemoServer().start()
    server.reset()  # moto keeps its state per process, not per server
    proxy = LatencyProxy(server.url, latency_ms / 1000)
    try:
        entries, credentials = seed_installations(server.url, installations, extra)
        folder = Path(tempfile.mkdtemp(prefix=f"bench-{installations}-{extra}-"))
        (folder / "credentials").write_text(credentials, encoding="utf-8")
        config = {"installations": entries} if installations > 1 else entries[0]
        (folder / "installations.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return run_suite(folder, proxy.url, serial)
    finally:
        proxy.stop()
        server.stop()


def slope(rows: list[dict[str, Any]], key: str) -> float:
    """Least-squares seconds per unit of ``key`` (installations, or extra buckets and roles)."""
    xs = [row[key] for row in rows]
    ys = [row["concurrent"]["wall_s"] for row in rows]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def timed(command: list[str]) -> dict[str, float]:
    """Wall and CPU seconds of one command in the checkout (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=CHILD_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "cpu_s": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def targets(rounds: int, latency_ms: int, fleet: int) -> None:
    """Every target beside its measured value: one installation seeded once, then ``rounds`` rounds of
    alternating runs (each round: pytest --version, pytest --help, the full run, -m encryption, and a full run
    through a proxy without and with latency). A first, discarded round writes the bytecode caches and settles
    moto's state (a described KMS replica turns its primary into a REPLICA), so that every measured run reads
    the same installation."""
    import yaml

    from spacelift_dr.demo import DemoServer

    pytest_bin = str(Path(sys.executable).with_name("pytest"))
    server = DemoServer().start()
    server.reset()
    without, with_latency = LatencyProxy(server.url, 0), LatencyProxy(server.url, latency_ms / 1000)
    # The full run and -m encryption talk to moto itself; the latency pairs go through a proxy both ways.
    kinds: dict[str, tuple[str, tuple[str, ...]] | None] = {
        "version": None, "help": None, "full": (server.url, ()), "encryption": (server.url, ("-m", "encryption")),
        "proxy 0 ms": (without.url, ()), f"proxy {latency_ms} ms": (with_latency.url, ())}
    figures: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    try:
        entries, credentials = seed_installations(server.url, 1, 0)
        folder = Path(tempfile.mkdtemp(prefix="bench-targets-"))
        (folder / "credentials").write_text(credentials, encoding="utf-8")
        (folder / "installations.yaml").write_text(yaml.safe_dump(entries[0], sort_keys=False), encoding="utf-8")
        for number in range(rounds + 1):
            for kind, how in kinds.items():
                if how is None:
                    measured: dict[str, Any] = timed([pytest_bin, f"--{kind}"])
                else:
                    measured = run_suite(folder, how[0], False, *how[1])
                if number:  # round 0 warms up
                    figures[kind].append(measured)
            print(f"round {number} done", file=sys.stderr, flush=True)
    finally:
        without.stop()
        with_latency.stop()
        server.stop()

    def wall(kind: str) -> list[float]:
        return [f["wall_s"] for f in figures[kind]]

    def cpu(kind: str) -> float:
        return statistics.median(f["cpu_s"] for f in figures[kind])

    version = statistics.median(wall("version"))
    load = os.getloadavg()
    print(f"{rounds} alternating rounds; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on "
          f"{os.cpu_count()} cores; wall s as median (min–max)\n")
    print("| measure | wall s | CPU s | ratio to pytest --version (wall) | target | met |")
    print("|---|---|---|---|---|---|")

    def row(label: str, kind: str, target: str, met: bool | None) -> None:
        ratio = statistics.median(wall(kind)) / version
        verdict = "—" if met is None else ("yes" if met else "no")
        print(f"| {label} | {spread(wall(kind))} | {cpu(kind):.2f} | {ratio:.1f}x | {target} | {verdict} |")

    help_ratio = statistics.median(wall("help")) / version
    row("`pytest --version`", "version", "", None)
    row("start-up: `pytest --help`", "help", "≤ 4x pytest --version", help_ratio <= 4)
    row("demo-sized run (1 installation)", "full", "≤ 1.5 s", statistics.median(wall("full")) <= 1.5)
    row("`-m encryption`", "encryption", "≤ 1 s", statistics.median(wall("encryption")) <= 1.0)
    pairs = [b - a for a, b in zip(wall("proxy 0 ms"), wall(f"proxy {latency_ms} ms"), strict=True)]
    added = statistics.median(pairs)
    trips = added / (latency_ms / 1000) if latency_ms else 0.0
    print(f"| latency added by {latency_ms} ms per call (median of {rounds} alternating pairs) | "
          f"{spread(pairs)} | | {trips:.1f} round trips | ≤ 10 round trips | {'yes' if trips <= 10 else 'no'} |")
    peak = statistics.median(f["peak_rss_mb"] for f in figures["full"])
    print(f"| peak memory, 1 installation | {peak:.0f} MiB | | | ≤ 100 MiB | {'yes' if peak <= 100 else 'no'} |")
    full = figures["full"][-1]
    print(f"| calls total / distinct, 1 installation | {full['calls']} / {full['distinct']} | | | equal | "
          f"{'yes' if all(f['calls'] == f['distinct'] for f in figures['full']) else 'no'} |")
    if fleet:
        many = _measure_once(fleet, 0, 0, False)
        megabytes = many["peak_rss_mb"] * 1.048576
        print(f"| peak memory, {fleet} installations (one run, {many['wall_s']:.0f} s) | "
              f"{many['peak_rss_mb']:.0f} MiB = {megabytes:.0f} MB | "
              f"{many['cpu_s']:.1f} | | < 300 MB | {'yes' if megabytes < 300 else 'no'} |")
        print(f"| calls total / distinct, {fleet} installations | {many['calls']} / {many['distinct']} | | | equal | "
              f"{'yes' if many['calls'] == many['distinct'] else 'no'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the targets")
    parser.add_argument("--fleet", type=int, default=50, help="installations for the memory target (0: skip)")
    parser.add_argument("--table", action="store_true", help="also the growth table")
    parser.add_argument("--quick", action="store_true", help="table: 1 and 10 installations, 10 and 100 extra")
    parser.add_argument("--serial-limit", type=int, default=100,
                        help="table: skip the serial run above this many installations × max(extra, 1)")
    options = parser.parse_args()
    fleet = [1, 10] if options.quick else [1, 10, 50]
    extras = [10, 100] if options.quick else [10, 100, 1000]

    targets(options.rounds, options.latency_ms, options.fleet)
    if not options.table:
        return
    print(f"\nlatency per call: {options.latency_ms} ms\n")
    print("| installations | extra buckets and roles | results | calls total | calls distinct | wall s "
          "| serial wall s | serial/concurrent | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for installations, extra in [(n, 0) for n in fleet] + [(1, e) for e in extras]:
        serial = installations * max(extra, 1) <= options.serial_limit
        row = measure(installations, extra, options.latency_ms, serial)
        rows.append(row)
        fast, slow = row["concurrent"], row["serial"]
        serial_wall = f"{slow['wall_s']:.2f}" if slow else "not run"
        ratio = f"{slow['wall_s'] / fast['wall_s']:.1f}x" if slow else "—"
        print(f"| {installations} | {extra} | {fast['results']} | {fast['calls']} | {fast['distinct']} | "
              f"{fast['wall_s']:.2f} | {serial_wall} | {ratio} | {fast['peak_rss_mb']:.0f} |", flush=True)
    print(f"\ngrowth: {slope([r for r in rows if r['extra'] == 0], 'installations'):.2f} s per installation; "
          f"{slope([r for r in rows if r['installations'] == 1], 'extra'):.3f} s per extra bucket and role")
    once = all(r["concurrent"]["calls"] == r["concurrent"]["distinct"] for r in rows)
    print(f"distinct == total in every row: {once}")


if __name__ == "__main__":
    main()
