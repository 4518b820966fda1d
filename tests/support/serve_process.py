"""Real `cds-service serve` processes (and other servers) on free 127.0.0.1 ports, for tests that need real
sockets. One helper for every such test: start, wait until it answers, stop the whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["CLI", "Served", "free_port", "raw_connection", "running", "served", "service_env"]

START_TIMEOUT_SECONDS = 60
CLI = [sys.executable, "-m", "cds_service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(**settings: str) -> dict[str, str]:
    """This environment without any CDS_* (or Prometheus) variable of the caller's, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDS_", "PROMETHEUS_"))}
    env.update(settings)
    return env


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str = ""

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[str]:
        return self.log().splitlines()


@contextmanager
def running(
    argv: Sequence[str], base: str, env: Mapping[str, str], log_path: Path, *, cwd: Path | None = None,
    ready_path: str = "/healthz",
) -> Iterator[Served]:
    """Run `argv` (a server listening at `base`) until `ready_path` answers 200; SIGTERM to its group after."""
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
    served = Served(base=base, process=process, log_path=log_path, database_url=env.get("CDS_DATABASE_URL", ""))
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}:\n{served.log()[-3000:]}")
            try:
                if httpx.get(f"{base}{ready_path}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer in time:\n{served.log()[-3000:]}")
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            # The whole process group: the uvicorn supervisor and its workers.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def served(*, workers: int = 1, log_level: str = "info", **environment: str) -> Iterator[Served]:
    """`cds-service serve` with auth disabled, a fresh SQLite store (unless `environment` names another
    CDS_DATABASE_URL) and `environment` (CDS_... = value)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="cds-serve-") as directory:
        defaults = {"CDS_AUTH_MODE": "disabled", "CDS_DATABASE_URL": f"sqlite:///{directory}/cds.db",
                    "CDS_PUBLIC_BASE_URL": base}
        env = service_env(**{**defaults, **environment})
        argv = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--log-level", log_level]
        with running(argv, base, env, Path(directory) / "server.log", cwd=Path(directory)) as server:
            yield server


def raw_connection(server: Served, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
