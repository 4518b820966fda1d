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

__all__ = ["AS_NOBODY", "CLI", "Served", "can_run_as_nobody", "cli", "free_port", "running", "serve", "service_env"]

START_TIMEOUT_SECONDS = 60
CLI = [sys.executable, "-m", "cds_service"]
NOBODY = 65534
# Root cannot be refused a write by file permissions, and a container runs as a plain user: these tests drop
# to an unprivileged uid that keeps only the capability to read files (so it can run this venv's Python
# wherever it lives, e.g. under /root).
AS_NOBODY = [
    "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
    "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
]


def can_run_as_nobody() -> bool:
    """True as root with setpriv (util-linux) at hand."""
    import shutil

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    return subprocess.run([*AS_NOBODY, "true"], capture_output=True, check=False).returncode == 0


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
    with running([*prefix, *CLI, *args], f"http://127.0.0.1:{port}", env, log_path, cwd=cwd) as served:
        yield served


@contextmanager
def running(
    argv: Sequence[str], base: str, env: Mapping[str, str], log_path: Path, *, cwd: Path | None = None
) -> Iterator[Served]:
    """Run `argv` (a server listening at `base`) until its /healthz answers; SIGTERM to its group after."""
    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
    served = Served(base=base, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer in time:\n{log_path.read_text()}")
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
