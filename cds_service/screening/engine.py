"""Run the screen's two passes on an engine: embedded (a process pool on this machine) or a Dask cluster.

Both engines run the same task functions (`split.split_file`, `partition.screen_partition`) on the same
work folder; every task is idempotent and writes its result by rename, so a task lost with its worker
(kill -9) is simply run again: by Dask at once (it reschedules a dead worker's tasks), by `--resume` for the
embedded engine (a dead pool process breaks the pool: the run stops, naming --resume). Nothing is handed to
the engine but these task calls: no bag, no dataframe, no shuffle.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cds_service.screening.partition import PartitionJob, screen_partition, warm_up
from cds_service.screening.source import ExportFile, ExportSource
from cds_service.screening.split import FileReport, split_file

__all__ = ["EngineError", "Plan", "run_tasks", "screen_work"]


class EngineError(RuntimeError):
    """The run could not finish (a worker died, the scheduler is unreachable); the message says what to do."""


@dataclass(frozen=True, slots=True)
class Plan:
    work: Path
    partitions: int
    today: str
    config_path: str | None
    workers: int
    scheduler: str | None  # tcp://HOST:PORT, or None: embedded
    progress: bool


def _bar(total: int, label: str, enabled: bool):  # noqa: ANN202
    from tqdm import tqdm

    # No monitor thread: the pass-2 pool forks after the pass-1 bar, and fork must find no other thread.
    tqdm.monitor_interval = 0
    return tqdm(total=total, desc=label, unit="task", disable=not enabled, file=sys.stderr, leave=False)


def _client(scheduler: str):  # noqa: ANN202
    from distributed import Client

    try:
        return Client(scheduler, timeout="20s")
    except OSError as exc:
        raise EngineError(f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__})") from None


def _start_method() -> str:
    """fork where the platform has it: a worker starts with the driver's modules already loaded (the hook path
    takes ~1 s to import, as long as the whole screen of 1,000 patients takes), whatever Python's default
    (spawn in a spawned process, forkserver from 3.14). A pool is made when no other thread of the driver
    runs (the previous pool is shut down, the progress bar has no monitor thread), so fork copies no lock
    held by another thread."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


@contextmanager
def local_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A process pool for one pass (None: one worker runs the tasks in this process)."""
    if workers == 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(_start_method()))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_tasks(plan: Plan, fn: Callable[..., Any], calls: list[tuple], label: str, client: Any = None,
              pool: ProcessPoolExecutor | None = None, meanwhile: Callable[[], None] | None = None) -> list[Any]:
    """fn(*call) for every call, on the plan's engine (`client`: the Dask client of --scheduler; `pool`: the
    embedded engine's processes, from `local_pool`), results in call order, with a progress bar.
    `meanwhile()` runs in this process once the pool's tasks are submitted (the driver is idle otherwise)."""
    results: list[Any] = [None] * len(calls)
    if not calls:
        return results
    with _bar(len(calls), label, plan.progress) as bar:
        if client is not None:
            from distributed import as_completed as dask_completed

            # A worker that dies takes its task with it: the scheduler runs the task again elsewhere (the
            # task is idempotent); `retries` also covers a task that raised because its worker was going away.
            futures = [client.submit(fn, *call, pure=False, retries=2) for call in calls]
            index = {f.key: i for i, f in enumerate(futures)}
            for future in dask_completed(futures):
                results[index[future.key]] = future.result()
                bar.update(1)
            return results
        if pool is None:
            for i, call in enumerate(calls):
                results[i] = fn(*call)
                bar.update(1)
            return results
        try:
            # Largest first (calls come sorted so by the caller): the last task to finish is a short one.
            pending: dict[Future, int] = {pool.submit(fn, *call): i for i, call in enumerate(calls)}
            if meanwhile is not None:
                meanwhile()
            for future in as_completed(pending):
                results[pending[future]] = future.result()
                bar.update(1)
        except BrokenProcessPool:
            raise EngineError("a worker process died; the finished files and partitions are kept: run the same "
                              "command again with --resume to finish") from None
    return results


def _job_file(work: Path) -> Path:
    return work / "job.json"


def prepare_work(work: Path, job: dict, resume: bool) -> None:
    """A fresh work folder, or (with --resume) the one of the same job."""
    if resume and _job_file(work).exists():
        previous = json.loads(_job_file(work).read_text())
        if previous != job:
            raise EngineError("--resume: the work folder belongs to another run (other inputs, date or partitions)")
        return
    if work.exists():
        shutil.rmtree(work)
    (work / "spill").mkdir(parents=True)
    (work / "results").mkdir()
    _job_file(work).write_text(json.dumps(job))


def screen_work(plan: Plan, source: ExportSource, files: list[ExportFile]) -> tuple[list[FileReport], list[Path]]:
    """Both passes; returns the files' reports and the partitions' result files, in order."""
    client = _client(plan.scheduler) if plan.scheduler else None
    workers = 1 if client is not None else plan.workers
    # Largest file first onto the pool (LPT): the pass ends on a small file, not on one big one started last.
    order = sorted(range(len(files)), key=lambda i: -(files[i].size or 0))
    try:
        with local_pool(workers) as pool:
            # While pass 1 runs, the driver warms the hook path once; pass 2's pool is forked after, warmed.
            warm = (lambda: warm_up(plan.today, plan.config_path)) if pool is not None else None
            split = run_tasks(plan, split_file, [(source, files[i], plan.work, plan.partitions) for i in order],
                              "split", client, pool, meanwhile=warm)
        reports = [report for _, report in sorted(zip(order, split, strict=True), key=lambda pair: pair[0])]
        names = {f.index: f.name for f in files}
        indexes = tuple(f.index for f in files if not f.error_file)
        jobs = [PartitionJob(str(plan.work), k, indexes, plan.today, plan.config_path)
                for k in range(plan.partitions)]
        with local_pool(workers) as pool:
            run_tasks(plan, screen_partition, [(job, names) for job in jobs], "screen", client, pool)
    finally:
        if client is not None:
            client.close()
    from cds_service.screening.partition import result_path

    return reports, [result_path(plan.work, k) for k in range(plan.partitions)]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


