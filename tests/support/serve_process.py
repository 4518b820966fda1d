"""A real `cds-service serve` process on a free 127.0.0.1 port, for tests that need real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Served", "free_port", "served", "raw_connection"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    base: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def served(**environment: str) -> Iterator[Served]:
    """`cds-service serve` with auth disabled, a fresh SQLite store and `environment` (CDS_... = value)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cds-serve-") as directory:
        log_path = Path(directory) / "server.log"
        env = {**os.environ, "CDS_AUTH_MODE": "disabled", "CDS_DATABASE_URL": f"sqlite:///{directory}/cds.db",
               "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **environment}
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "cds_service", "serve", "--port", str(port), "--log-level", "info"],
                env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )
            server = Served(f"http://127.0.0.1:{port}", port, process, log_path)
            try:
                _wait_until_serving(server)
                yield server
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _wait_until_serving(server: Served, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"cds-service exited early:\n{server.log()[-3000:]}")
        try:
            if httpx.get(f"{server.base}/cds-services", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"cds-service did not start in time:\n{server.log()[-3000:]}")


def raw_connection(server: Served, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
