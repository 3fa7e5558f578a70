"""Benchmark: wall time, API calls and peak memory of the suite over growing installations.

Run by hand (not in CI): ``.venv/bin/python bench/bench.py [--latency-ms 50] [--quick]``.

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


def run_suite(folder: Path, endpoint: str, serial: bool) -> dict[str, Any]:
    reports = folder / ("serial" if serial else "concurrent")
    figures = folder / f"figures-{'serial' if serial else 'concurrent'}.json"
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
           "AWS_CONFIG_FILE": os.devnull, "AWS_DEFAULT_REGION": "eu-west-1"}
    env.pop("AWS_PROFILE", None)
    args = [f"--dr-config={folder / 'installations.yaml'}", f"--dr-reports={reports}", "-q", "-p", "no:randomly",
            "-p", "no:cacheprovider", *(["--dr-serial"] if serial else [])]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SUITE, str(figures), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - started
    if not figures.exists():
        raise SystemExit(f"suite run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    measured = json.loads(figures.read_text(encoding="utf-8"))
    index = reports / "dr-installations.json"
    documents = ([json.loads((reports / e["results_file"]).read_text(encoding="utf-8"))
                  for e in json.loads(index.read_text(encoding="utf-8"))["installations"]] if index.exists()
                 else [json.loads((reports / "dr-results.json").read_text(encoding="utf-8"))])
    return {"wall_s": wall, "peak_rss_mb": measured["peak_rss_mb"],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="1 and 10 installations, 10 and 100 extra")
    parser.add_argument("--repeats", type=int, default=3, help="runs each way for the latency figure")
    parser.add_argument("--latency-only", action="store_true", help="only the demo installation's latency figure")
    parser.add_argument("--serial-limit", type=int, default=100,
                        help="skip the serial run above this many installations × max(extra, 1)")
    options = parser.parse_args()
    fleet = [1, 10] if options.quick else [1, 10, 50]
    extras = [10, 100] if options.quick else [10, 100, 1000]

    # The latency target is about one installation: the median of a few runs each way, since one run of
    # a few seconds varies by a few tenths on a busy machine.
    without = statistics.median(_measure_once(1, 0, 0, False)["wall_s"] for _ in range(options.repeats))
    with_latency = statistics.median(_measure_once(1, 0, options.latency_ms, False)["wall_s"]
                                     for _ in range(options.repeats))
    print(f"latency per call: {options.latency_ms} ms")
    print(f"the demo installation, median of {options.repeats} runs: {without:.2f} s without latency, "
          f"{with_latency:.2f} s with; latency added: {with_latency - without:+.2f} s "
          f"({(with_latency - without) / (options.latency_ms / 1000):.1f} round trips)\n")
    if options.latency_only:
        return
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
