"""What the connection limits (serving.py) cost: the service on uvicorn's plain httptools protocol against
the same service on `LimitedHttpToolsProtocol`, under wrk, alternating runs.

    python benchmarks/serving_bench.py [--path /cds-services] [--seconds 10] [--rounds 3] [--connections 8]

Needs `wrk` on the PATH (Debian package `wrk`). One worker each; auth disabled; a fresh SQLite store.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_support import free_port  # noqa: E402

PROTOCOLS = {"plain httptools": "httptools", "with the limits": "cds_service.serving:LimitedHttpToolsProtocol"}
SERVER = """
import sys, uvicorn
from cds_service.serving import uvicorn_options
from cds_service.settings import get_settings
options = uvicorn_options(get_settings(), host="127.0.0.1", port=int(sys.argv[1]), workers=1, log_level="warning")
options["http"] = sys.argv[2]
uvicorn.run(**options)
"""


def run(protocol: str, path: str, seconds: int, connections: int, directory: str) -> float:
    port = free_port()
    env = {**os.environ, "CDS_AUTH_MODE": "disabled", "CDS_DATABASE_URL": f"sqlite:///{directory}/bench.db",
           "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), protocol], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(150):
            try:
                if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                             capture_output=True, text=True, check=True).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="/cds-services")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    results: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.rounds):
            for name, protocol in PROTOCOLS.items():
                results[name].append(run(protocol, args.path, args.seconds, args.connections, directory))
    for name, rates in results.items():
        print(f"{name:<16} GET {args.path}: median {statistics.median(rates):8.0f} req/s  (runs: "
              f"{', '.join(f'{rate:.0f}' for rate in rates)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
