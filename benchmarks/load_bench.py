"""The performance benchmark of issue 9: the service against a bare-parse baseline, in one run.

    python benchmarks/load_bench.py [--duration 10] [--connections 8] [--patients 16] [--rounds 2]
                                    [--skip-scaling] [--skip-fetch]

1. Starts `cds-service serve` (1 worker, SQLite store, auth disabled) and a bare FastAPI endpoint that only
   parses the same bodies (`benchmarks/baseline_app.py`, same uvicorn), each on its own port.
2. Drives both with wrk (Debian package `wrk`; installed with apt-get when missing and run as root),
   cycling through `--patients` different patients of ~160 resources each (`bench_patients.py`), with
   8 connections and with 1, alternating baseline and service `--rounds` times so both see the same
   machine. Prints throughput and latency of both, and their ratios, and the service's peak RSS.
3. Scaling: the cost of one call (sequential, over HTTP) with 10, 100, 1,000 and 10,000 resources, padded
   with resources the pathway reads (lab history) or does not read (vital signs, other labs), next to the
   baseline's on the same body, and the cost per resource from 1,000 to 10,000 (also above the baseline's).
4. Fetch mode: `benchmarks/gathering_bench.py --latency 0.05` (gathering time against the slowest single
   query, with a FHIR server that adds 50 ms to every query).

Targets (issue 9): throughput >= 0.5 of the baseline; p99 <= 2x the baseline's p99 at 8 connections; no
stall at 1 connection; peak RSS <= 150 MiB per worker; cost linear in resources, with a small slope for
resources not read; fetch mode <= 1.3x the slowest query.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_patients import bench_requests, count_resources, padded_request  # noqa: E402
from benchmarks.bench_support import free_port, peak_rss_mib  # noqa: E402

SERVICE_PATH = "/cds-services/foot-calcification-patient-view"
SCALING_SIZES = (10, 100, 1_000, 10_000)

WRK_SCRIPT = """
local bodies = {}
local n = 0
init = function(args)
  for i, name in ipairs(args) do
    local f = assert(io.open(name, "rb"))
    bodies[i] = f:read("*a")
    f:close()
  end
end
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[(n % #bodies) + 1])
end
"""


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def row(self) -> str:
        return f"{self.rps:8.0f} req/s   p50 {self.p50_ms:7.1f} ms   p99 {self.p99_ms:7.1f} ms"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        print("wrk not found: installing Debian's wrk with apt-get", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: install Debian's 'wrk' package")
    return found


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"server exited with status {process.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server did not answer {url}")


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(wrk: str, url: str, connections: int, duration: int, script: Path, bodies: list[Path]) -> WrkResult:
    threads = min(2, connections)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url,
               "--", *map(str, bodies)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _milliseconds(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _milliseconds(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return WrkResult(rps, p50, p99, total, errors)


def start(command: list[str], env: dict[str, str], port: int, probe: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_until_up(f"http://127.0.0.1:{port}{probe}", process)
    return process


def start_baseline(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The bare-parse baseline (`baseline_app.py`) with the uvicorn options of `cds-service serve`."""
    return start([sys.executable, "-m", "uvicorn", "benchmarks.baseline_app:app", "--port", str(port),
                  "--workers", "1", "--log-level", "warning", "--no-access-log"], env, port, "/docs-not-here")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def write_wrk_inputs(work: Path, payloads: list[bytes]) -> tuple[list[Path], Path]:
    """The request bodies as files in `work`, and the wrk script that cycles through them."""
    files = []
    for index, payload in enumerate(payloads):
        files.append(work / f"body-{index:02d}.json")
        files[-1].write_bytes(payload)
    script = work / "bodies.lua"
    script.write_text(WRK_SCRIPT)
    return files, script


def sequential_ms(url: str, body: bytes, runs: int) -> float:
    samples = []
    with httpx.Client(timeout=120) as client:
        for _ in range(max(2, runs // 5)):  # warm-up
            client.post(url, content=body, headers={"content-type": "application/json"}).raise_for_status()
        for _ in range(runs):
            started = time.perf_counter()
            client.post(url, content=body, headers={"content-type": "application/json"}).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--patients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="baseline/service alternations (default 2)")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-fetch", action="store_true")
    args = parser.parse_args()

    wrk = ensure_wrk()
    today = date.today()
    bodies = bench_requests(args.patients, today)
    sizes = [count_resources(b) for b in bodies]
    payloads = [json.dumps(b).encode() for b in bodies]
    print(f"{len(bodies)} patients, {min(sizes)}-{max(sizes)} resources in prefetch each "
          f"({min(map(len, payloads)) // 1024}-{max(map(len, payloads)) // 1024} KiB bodies)")

    with tempfile.TemporaryDirectory(prefix="cds-bench-") as tmp:
        work = Path(tmp)
        files, script = write_wrk_inputs(work, payloads)

        service_port, baseline_port = free_port(), free_port()
        env = {
            **os.environ,
            "CDS_AUTH_MODE": "disabled",
            "CDS_DATABASE_URL": f"sqlite:///{work}/bench.db",
            "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{service_port}",
            "CDS_MAX_BODY_BYTES": str(64 * 1024 * 1024),  # the scaling step sends 10,000 resources
            "PYTHONPATH": str(REPO),
        }
        service = start([sys.executable, "-m", "cds_service", "serve", "--port", str(service_port), "--workers", "1",
                         "--log-level", "warning"], env, service_port, "/healthz")
        baseline = start_baseline(baseline_port, env)
        try:
            service_url = f"http://127.0.0.1:{service_port}{SERVICE_PATH}"
            baseline_url = f"http://127.0.0.1:{baseline_port}{SERVICE_PATH}"
            cards = []
            with httpx.Client(timeout=30) as client:
                for payload in payloads:  # every body answers 200 with cards before anything is timed
                    answer = client.post(service_url, content=payload, headers={"content-type": "application/json"})
                    answer.raise_for_status()
                    cards.append(len(answer.json()["cards"]))
            print(f"every patient answers 200; cards per patient: {cards}")

            results: dict[tuple[str, int], list[WrkResult]] = {}
            for connections in (args.connections, 1):
                run_wrk(wrk, baseline_url, connections, 2, script, files)  # warm-up
                run_wrk(wrk, service_url, connections, 2, script, files)
                for _ in range(args.rounds):
                    for name, url in (("baseline", baseline_url), ("service", service_url)):
                        results.setdefault((name, connections), []).append(
                            run_wrk(wrk, url, connections, args.duration, script, files)
                        )
            rss = peak_rss_mib(service.pid)

            print()
            print(f"wrk, {args.duration} s per run, {args.rounds} alternating runs each (best run shown):")
            summary: dict[str, float] = {}
            for connections in (args.connections, 1):
                best = {name: max(results[(name, connections)], key=lambda r: r.rps) for name in ("baseline", "service")}
                for name in ("baseline", "service"):
                    errors = sum(r.errors for r in results[(name, connections)])
                    print(f"  {connections} connection(s)  {name:8s} {best[name].row()}"
                          + (f"   ({errors} errors)" if errors else ""))
                throughput = best["service"].rps / best["baseline"].rps
                tail = best["service"].p99_ms / best["baseline"].p99_ms
                print(f"  {connections} connection(s)  ratio    throughput {throughput:.2f} of the baseline (target >= 0.5), "
                      f"p99 {tail:.2f}x the baseline's (target <= 2)")
                summary[f"throughput_ratio_c{connections}"] = throughput
                summary[f"p99_ratio_c{connections}"] = tail
                summary[f"p99_service_c{connections}_ms"] = best["service"].p99_ms
                summary[f"p50_service_c{connections}_ms"] = best["service"].p50_ms
            print(f"  service peak RSS (VmHWM, 1 worker): {rss:.0f} MiB (target <= 150)")

            if not args.skip_scaling:
                print()
                print("scaling: one call at a time over HTTP, median ms per call: the service, and the bare-parse")
                print("baseline on the same body (what receiving and parsing it costs at all)")
                print(f"  {'resources':>10s}  {'pathway reads them':>24s}  {'pathway does not':>24s}")
                rows: dict[int, list[tuple[int, float, float]]] = {}
                for total in SCALING_SIZES:
                    row = []
                    for read in (True, False):
                        request = padded_request(total, read, today)
                        body = json.dumps(request).encode()
                        runs = 40 if total <= 1000 else 10
                        row.append((count_resources(request), sequential_ms(service_url, body, runs),
                                    sequential_ms(baseline_url, body, runs)))
                    rows[total] = row
                    print(f"  {total:>10,d}  {row[0][1]:>9.1f} ms (bare {row[0][2]:6.1f})"
                          f"  {row[1][1]:>9.1f} ms (bare {row[1][2]:6.1f})"
                          f"   (sent: {row[0][0]:,d} / {row[1][0]:,d} prefetch entries, {len(body) // 1024:,d} KiB)")
                low, high = SCALING_SIZES[-2], SCALING_SIZES[-1]
                slopes = []
                for column in (0, 1):
                    (n0, s0, b0), (n1, s1, b1) = rows[low][column], rows[high][column]
                    slopes.append(((s1 - s0) * 1000 / (n1 - n0), ((s1 - b1) - (s0 - b0)) * 1000 / (n1 - n0)))
                print(f"  from {low:,d} to {high:,d} resources, per resource: read {slopes[0][0]:.1f} us "
                      f"({slopes[0][1]:.1f} us above the bare parse), not read {slopes[1][0]:.1f} us "
                      f"({slopes[1][1]:.1f} us above the bare parse)")
        finally:
            stop([service, baseline])

    if not args.skip_fetch:
        print()
        print("fetch mode (benchmarks/gathering_bench.py --latency 0.05):")
        fetched = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gathering_bench.py"), "--latency", "0.05"],
                                 capture_output=True, text=True, check=False)
        print("  " + "\n  ".join((fetched.stdout + fetched.stderr).strip().splitlines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
