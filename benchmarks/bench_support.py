"""What several benchmarks share: a free port, a process's peak RSS, and a stub FHIR server in a process of
its own (in the benchmark's process its threads would compete with the client for the GIL)."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.gathering_stub_server import stub_fhir_server  # noqa: E402
from tests.support.serve_process import free_port  # noqa: E402

__all__ = ["free_port", "peak_rss_mib", "stub_server_process"]


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve(make_behaviour: Callable[..., Any], args: tuple[Any, ...], channel: Connection) -> None:
    with stub_fhir_server(make_behaviour(*args)) as stub:
        channel.send(stub.base_url)
        channel.recv()  # until the benchmark is done with it


@contextmanager
def stub_server_process(make_behaviour: Callable[..., Any], *args: Any) -> Iterator[str]:
    """A stub FHIR server answering with `make_behaviour(*args)`, built in a spawned process (so both must
    pickle); yields its base URL."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(make_behaviour, args, theirs), daemon=True
    )
    process.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        process.join(timeout=10)
