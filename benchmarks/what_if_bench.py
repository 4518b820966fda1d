"""What each part of a served call costs in throughput, against issue 9's bare-parse baseline, in one run.

    python benchmarks/what_if_bench.py [--duration 8] [--connections 8] [--patients 16] [--rounds 2]

Starts the bare-parse baseline (`baseline_app.py`), the service as it is, and the service with parts
switched off (`what_if_serve.py`: R4B validation, the duplicate-key refusal, snooze, issued-card
recording; all four; the whole pathway), each in its own process on the bodies of `load_bench.py`, and
drives each with wrk in turn, `--rounds` times, so that all see the same machine. Prints each one's
throughput as a ratio of the baseline's (best run of each). The gap between "the service" and "without all
four" is what those requirements cost; "without the pathway" is what HTTP, the middleware and the body
parse alone reach.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_patients import bench_requests  # noqa: E402
from benchmarks.bench_support import free_port  # noqa: E402
from benchmarks.load_bench import (  # noqa: E402
    SERVICE_PATH,
    WrkResult,
    ensure_wrk,
    run_wrk,
    start,
    start_baseline,
    stop,
    write_wrk_inputs,
)

VARIANTS: tuple[tuple[str, str], ...] = (
    ("the service", ""),
    ("without R4B validation", "validation"),
    ("without duplicate-key refusal", "duplicate-keys"),
    ("without snooze", "snooze"),
    ("without issued-card recording", "issued-cards"),
    ("without all four above", "validation,duplicate-keys,snooze,issued-cards"),
    ("without the pathway (parse + protocol)", "pathway"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run (default 8)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--patients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="times every server is measured (default 2)")
    args = parser.parse_args()

    wrk = ensure_wrk()
    payloads = [json.dumps(body).encode() for body in bench_requests(args.patients, date.today())]
    with tempfile.TemporaryDirectory(prefix="cds-what-if-") as tmp:
        work = Path(tmp)
        files, script = write_wrk_inputs(work, payloads)

        servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        try:
            port = free_port()
            base_env = {**os.environ, "PYTHONPATH": str(REPO)}
            servers["baseline"] = (start_baseline(port, base_env), f"http://127.0.0.1:{port}{SERVICE_PATH}")
            for index, (name, parts) in enumerate(VARIANTS):
                port = free_port()
                env = {
                    **base_env,
                    "CDS_AUTH_MODE": "disabled",
                    "CDS_DATABASE_URL": f"sqlite:///{work}/what-if-{index}.db",
                    "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                }
                command = [sys.executable, str(REPO / "benchmarks" / "what_if_serve.py"), "--port", str(port)]
                servers[name] = (start(command + (["--without", parts] if parts else []), env, port, "/healthz"),
                                 f"http://127.0.0.1:{port}{SERVICE_PATH}")

            print(f"{len(payloads)} patients, {args.connections} connections, {args.duration} s per run, "
                  f"{args.rounds} round(s) over {len(servers)} servers (best run of each shown)")
            for _, url in servers.values():  # every server answers, and is warm, before anything is timed
                run_wrk(wrk, url, args.connections, 2, script, files)
            results: dict[str, list[WrkResult]] = {}
            for _ in range(args.rounds):
                for name, (_, url) in servers.items():
                    results.setdefault(name, []).append(run_wrk(wrk, url, args.connections, args.duration, script,
                                                                files))
        finally:
            stop([process for process, _ in servers.values()])

    baseline = max(results["baseline"], key=lambda r: r.rps)
    for name, runs in results.items():
        best = max(runs, key=lambda r: r.rps)
        errors = sum(r.errors for r in runs)
        print(f"  {name:40s} {best.row()}   {best.rps / baseline.rps:5.2f} of the baseline"
              + (f"   ({errors} errors)" if errors else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
