"""`cds-service screen` against its baseline B, on a deterministic synthetic export (issue 17).

    python benchmarks/screen_bench.py                       # 1,000 patients of ~1.3 MB, 1/5/20/100 %, 2 workers
    python benchmarks/screen_bench.py --patients 200 --prevalence 0.05 --scale 10
    python benchmarks/screen_bench.py --patients 20000 --bulk-kb 0   # the fixture-shaped core only (~6 KB each)

Patients are the size of a real export's by default (~1.3 MB of NDJSON each: the issue's 1.3 TB for 1M;
generate.REAL_KB_PER_PATIENT, made up as generate.BULK_SHARES says), so 1,000 of them (1.3 GB per
prevalence) by default rather than the issue's 20,000 (26 GB each, more than this machine's disk for four).

B: the same number of processes reading every line of the same files and orjson-parsing it, nothing else,
measured in the same run. The screen is measured end to end (split, judge, outputs). Printed: patients/s
and the ratio screen/B per prevalence (targets >= 1.0 at 5 %, >= 0.35 at 100 %; the targets are judged on
wall time, the CPU-time ratio is printed beside it as the steadier figure on a shared machine), peak RSS of the driver
and of the largest worker (target <= 400 MiB), 1 vs 2 workers at 5 % (target >= 1.8x), and with --scale
the RSS at 1x and Nx patients (target: flat within 10 %). Each measurement runs in a fresh spawned process,
so peak RSS is the run's own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TODAY = date(2028, 3, 1)
IMPORT_SECONDS = 0.0


def _parse_files(paths: list[str]) -> int:
    import gzip

    import orjson

    count = 0
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    orjson.loads(line)
                    count += 1
    return count


def _baseline(export: str, workers: int) -> tuple[float, float, float, float]:
    """(seconds, CPU seconds, driver MiB, largest worker MiB): every line of every file orjson-parsed by
    `workers` processes."""
    files = sorted(str(p) for p in Path(export).iterdir() if ".ndjson" in p.name)
    files.sort(key=lambda p: -os.path.getsize(p))
    shares: list[list[str]] = [[] for _ in range(workers)]
    sizes = [0] * workers
    for path in files:  # largest first onto the least loaded worker
        i = sizes.index(min(sizes))
        shares[i].append(path)
        sizes[i] += os.path.getsize(path)
    started, cpu = time.perf_counter(), _cpu()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_parse_files, shares))
    seconds = time.perf_counter() - started
    return seconds, _cpu() - cpu, _rss(resource.RUSAGE_SELF), _rss(resource.RUSAGE_CHILDREN)


def _screen(export: str, out: str, workers: int) -> tuple[float, float, float, float]:
    import contextlib
    import io

    # The screen's modules (the whole hook path) load in ~1-3 s: a fixed start-up cost, printed apart (it
    # vanishes at real export sizes) and paid here, before the clock starts, as B's imports are.
    loading = time.perf_counter()
    import cds_service.screening.engine  # noqa: F401
    import cds_service.screening.outputs  # noqa: F401
    from cds_service.cli import main

    global IMPORT_SECONDS
    IMPORT_SECONDS = time.perf_counter() - loading
    started, cpu = time.perf_counter(), _cpu()
    with contextlib.redirect_stdout(io.StringIO()):  # the screen's own one-screen summary
        status = main(["screen", export, "--out", out, "--today", TODAY.isoformat(), "--workers", str(workers),
                       "--no-progress"])
    seconds = time.perf_counter() - started
    assert status == 0, status
    print(f"(start-up: modules loaded in {IMPORT_SECONDS:.1f} s, not timed)", file=sys.stderr)
    return seconds, _cpu() - cpu, _rss(resource.RUSAGE_SELF), _rss(resource.RUSAGE_CHILDREN)


def _cpu() -> float:
    """CPU seconds of this process and its finished children: on a machine shared with other work, a steadier
    measure of cost than wall time (which also counts the waits for a core)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def _cpu_control(workers: int) -> float:
    """How much faster `workers` processes run a pure-Python loop than one, right now: what this machine's
    other work leaves for a scaling measurement."""
    times = []
    for count in (1, workers):
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=count) as pool:
            list(pool.map(_burn, [2_000_000] * (2 * workers)))
        times.append(time.perf_counter() - started)
    return times[0] / times[1]


def _rss(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def _fresh(fn, *args):  # noqa: ANN001, ANN202 - run in a spawned process: its peak RSS is this run's only
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as runner:
        return runner.submit(fn, *args).result()


def _export(root: Path, patients: int, prevalence: float, workers: int, extra_kb: int, bulk_kb: int) -> Path:
    from cds_service.screening.generate import generate_export

    folder = root / f"export-{patients}-{prevalence}-{extra_kb}-{bulk_kb}"
    if not (folder / "manifest.json").exists():
        generate_export(folder, patients=patients, prevalence=prevalence, today=TODAY, files_per_type=2 * workers,
                        extra_kb=extra_kb, bulk_kb=bulk_kb)
    return folder


def _read_once(export: Path) -> None:
    """Read every file once, untimed, so that B and the screen both find the export in the page cache (B
    ran first on a cold cache and looked up to 2x slower than it is)."""
    for path in export.iterdir():
        with open(path, "rb") as handle:
            while handle.read(8 << 20):
                pass


def _target(met: bool) -> str:
    return "met" if met else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--prevalence", type=float, nargs="+", default=[0.01, 0.05, 0.2, 1.0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", type=int, default=0, help="also measure RSS at this many times --patients (5 %%)")
    parser.add_argument("--no-speedup", action="store_true", help="skip the 1 vs N workers run")
    parser.add_argument("--extra-kb", type=int, default=0,
                        help="about this many more KB of fixture-shaped visits and vital signs per patient")
    parser.add_argument("--bulk-kb", type=int, default=None,
                        help="KB of a real record's bulk per patient (claims, vital signs, visits, routine labs; "
                             "default generate.REAL_KB_PER_PATIENT = 1300, 0: the ~6 KB fixture-shaped core only)")
    parser.add_argument("--dir", type=Path, help="where exports go (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    from cds_service.screening.generate import REAL_KB_PER_PATIENT

    bulk = REAL_KB_PER_PATIENT if args.bulk_kb is None else args.bulk_kb
    root = args.dir or Path(tempfile.mkdtemp(prefix="screen-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        print(f"{args.patients} patients (+{bulk} KB bulk, +{args.extra_kb} KB each), {args.workers} workers, "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"{'prevalence':>10} {'MB':>7} {'B pat/s':>9} {'screen pat/s':>12} {'ratio':>6} {'CPU ratio':>9} "
              f"{'driver MiB':>10} {'worker MiB':>10}")
        for prevalence in args.prevalence:
            export = _export(root, args.patients, prevalence, args.workers, args.extra_kb, bulk)
            megabytes = sum(p.stat().st_size for p in export.iterdir()) / 1e6
            _read_once(export)
            b_seconds, b_cpu, _, _ = _fresh(_baseline, str(export), args.workers)
            s_seconds, s_cpu, driver, worker = _fresh(_screen, str(export), str(root / "out"), args.workers)
            ratio = b_seconds / s_seconds
            goal = 1.0 if prevalence <= 0.05 else 0.35 if prevalence >= 1.0 else None
            verdict = "" if goal is None else f"  target >= {goal}: {_target(ratio >= goal)}"
            verdict += f"; RSS <= 400 MiB: {_target(max(driver, worker) <= 400)}"
            print(f"{prevalence:>10.0%} {megabytes:>7.0f} {args.patients / b_seconds:>9.1f} "
                  f"{args.patients / s_seconds:>12.1f} {ratio:>6.2f} {b_cpu / s_cpu:>9.2f} {driver:>10.0f} "
                  f"{worker:>10.0f}{verdict}",
                  flush=True)
        if not args.no_speedup and args.workers > 1:
            export = _export(root, args.patients, 0.05, args.workers, args.extra_kb, bulk)
            one, _, _, _ = _fresh(_screen, str(export), str(root / "out"), 1)
            many, _, _, _ = _fresh(_screen, str(export), str(root / "out"), args.workers)
            control = _cpu_control(args.workers)
            print(f"5% prevalence: 1 worker {args.patients / one:.1f} pat/s, {args.workers} workers "
                  f"{args.patients / many:.1f} pat/s: {one / many:.2f}x, target >= 1.8x: {_target(one / many >= 1.8)} "
                  f"(control, a CPU loop in 1 vs {args.workers} processes just after: {control:.2f}x)")
        if args.scale > 1:
            peaks = []
            for patients in (args.patients, args.patients * args.scale):
                export = _export(root, patients, 0.05, args.workers, args.extra_kb, bulk)
                seconds, _, driver, worker = _fresh(_screen, str(export), str(root / "out"), args.workers)
                peaks.append((driver, worker))
                print(f"{patients} patients at 5%: {patients / seconds:.1f} pat/s, driver {driver:.0f} MiB, "
                      f"largest worker {worker:.0f} MiB")
            growth = [b / a - 1 for a, b in zip(peaks[0], peaks[1], strict=True)]
            print(f"RSS 1x -> {args.scale}x: driver {growth[0]:+.0%}, worker {growth[1]:+.0%}; target within 10 %: "
                  f"{_target(max(abs(g) for g in growth) <= 0.10)}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
