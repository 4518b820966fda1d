"""End-to-end HTTP benchmark: a real `cds-service serve` process, a real CDS Hooks request, real sockets.

    python benchmarks/http_bench.py [REQUEST.json] [--requests N] [--concurrency C] [--workers W]

Without a request file it uses the materialised patient-view request of the richest fixture patient.
It reports latency percentiles measured by the client, throughput, and the server's resident memory (VmHWM,
the peak) after the run. With `wrk` on the PATH it also runs wrk for 10 s and prints its summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_support import free_port  # noqa: E402

SERVICE = "foot-calcification-patient-view"


def default_request() -> dict:
    from fhir_fixtures import PATIENTS, build_request  # noqa: PLC0415 - only when no file is given
    from fhir_fixtures.catalog import resources  # noqa: PLC0415

    richest = max(PATIENTS, key=lambda patient: len(resources(patient)))
    print(f"fixture: {richest} ({len(resources(richest))} resources), patient-view with full prefetch")
    return build_request(richest, "patient-view", date.today())


def add_history(body: dict, per_test: int) -> None:
    """Older copies of every lab result in the prefetch, a week apart: what a chronic patient's record holds."""
    from datetime import timedelta  # noqa: PLC0415

    for key, bundle in (body.get("prefetch") or {}).items():
        if not (isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle" and key.startswith("lab-results")):
            continue
        originals = [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "Observation"]
        for resource in originals:
            when = date.fromisoformat(resource.get("effectiveDateTime", date.today().isoformat())[:10])
            for n in range(1, per_test + 1):
                old = json.loads(json.dumps(resource))
                old["id"] = f"{resource['id']}-h{n}"
                old["effectiveDateTime"] = (when - timedelta(days=7 * n)).isoformat()
                bundle["entry"].append({"fullUrl": f"Observation/{old['id']}", "resource": old})
    total = sum(len(b.get("entry", [])) for b in body["prefetch"].values() if isinstance(b, dict) and "entry" in b)
    print(f"with lab history: {total} resources in prefetch")


def peak_rss_kib(pid: int) -> int:
    total = 0
    pids = [pid] + [int(p) for p in (Path(f"/proc/{pid}/task/{pid}/children").read_text().split() or [])]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("request", nargs="?", type=Path)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--history", type=int, default=0,
                        help="add N older results of each lab the request has (a long lab history)")
    args = parser.parse_args()

    body = json.loads(args.request.read_text()) if args.request else default_request()
    if args.history:
        add_history(body, args.history)
    payload = json.dumps(body).encode()
    port = free_port()
    url = f"http://127.0.0.1:{port}/cds-services/{SERVICE}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "CDS_AUTH_MODE": "disabled",
            "CDS_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "cds_service", "serve", "--port", str(port), "--workers", str(args.workers),
             "--log-level", "warning"],
            env=env,
        )
        try:
            session = requests.Session()
            for _ in range(100):
                try:
                    if session.get(f"http://127.0.0.1:{port}/pathway", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            first = session.post(url, data=payload, headers={"content-type": "application/json"}, timeout=30)
            first.raise_for_status()
            cards = first.json()["cards"]
            print(f"request: {len(payload)} bytes; answer: {len(cards)} cards "
                  f"({', '.join(c['source']['topic']['code'] for c in cards)})")

            def one(_: int) -> float:
                start = time.perf_counter()
                response = session.post(url, data=payload, headers={"content-type": "application/json"}, timeout=30)
                response.raise_for_status()
                return (time.perf_counter() - start) * 1000

            for _ in range(20):  # warm-up
                one(0)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                latencies = sorted(pool.map(one, range(args.requests)))
            elapsed = time.perf_counter() - started
            pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]  # noqa: E731
            print(f"{args.requests} requests, concurrency {args.concurrency}, {args.workers} worker(s): "
                  f"p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, p99 {pct(99):.1f} ms, "
                  f"mean {statistics.fmean(latencies):.1f} ms, {args.requests / elapsed:.0f} req/s")
            print(f"server peak RSS (VmHWM, all processes): {peak_rss_kib(server.pid) / 1024:.0f} MiB")

            if shutil.which("wrk"):
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
                    lua.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
                    lua.write(f"wrk.body = {json.dumps(payload.decode())}\n")
                result = subprocess.run(
                    ["wrk", "-t2", f"-c{args.concurrency}", "-d10s", "--latency", "-s", lua.name, url],
                    capture_output=True, text=True, check=False,
                )
                print("wrk:\n" + result.stdout)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
