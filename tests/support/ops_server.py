"""Run the real `cds-service` command line (its own process, this venv's Python) for the operations tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.serve_process import CLI, Served, free_port, running, service_env

__all__ = ["AS_NOBODY", "CLI", "Served", "can_run_as_nobody", "cli", "free_port", "running", "serve", "service_env"]

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


def cli(
    args: Sequence[str], env: Mapping[str, str], *, cwd: Path | None = None, timeout: float = 60,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `cds-service ARGS` to completion (for commands expected to end, e.g. a failed start)."""
    return subprocess.run(
        [*prefix, *CLI, *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


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
