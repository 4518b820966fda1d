"""Run the real `cds-service` command line (its own process, this venv's Python) for the operations tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Served", "cli", "free_port", "serve", "service_env"]

START_TIMEOUT_SECONDS = 60
CLI = [sys.executable, "-m", "cds_service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(**settings: str) -> dict[str, str]:
    """This environment without any CDS_* variable of the caller's, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDS_", "PROMETHEUS_"))}
    env.update(settings)
    return env


def cli(
    args: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None, timeout: float = 60,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `cds-service ARGS` to completion (for commands expected to end, e.g. a failed start)."""
    return subprocess.run(
        [*prefix, *CLI, *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Served:
    base: str
    process: subprocess.Popen[str]
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8").splitlines()


@contextmanager
def serve(
    env: Mapping[str, str], log_path: Path, *, workers: int = 1, cwd: Path | None = None,
    prefix: Sequence[str] = (), extra: Sequence[str] = (),
) -> Iterator[Served]:
    """`cds-service serve` on a free loopback port until /healthz answers; stopped with SIGTERM after."""
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *extra]
    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [*prefix, *CLI, *args], env=dict(env), cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
    served = Served(base=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"cds-service serve exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"cds-service serve did not answer in time:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            # The whole process group: the uvicorn supervisor and its workers.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
