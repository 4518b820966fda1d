"""The benchmarks' one entry point: every `*_bench.py` is registered (one line in benchmarks/registry.py),
every registered module is there with a `main()`, `python -m benchmarks list` lists them, and the table in
benchmarks/README.md names the same benchmarks."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.registry import BENCHMARKS

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "benchmarks"


def test_every_bench_script_is_registered_once() -> None:
    scripts = {path.stem for path in BENCH_DIR.glob("*_bench.py")}
    modules = [b.module for b in BENCHMARKS]
    names = [b.name for b in BENCHMARKS]
    assert len(set(names)) == len(names), "two benchmarks share a name"
    assert len(set(modules)) == len(modules), "a module is registered twice"
    assert scripts - set(modules) == set(), "add one line to BENCHMARKS in benchmarks/registry.py"
    assert set(modules) - scripts == set(), "registered, but no such benchmarks/<module>.py"


def test_every_registered_module_has_a_main() -> None:
    for bench in BENCHMARKS:
        tree = ast.parse((BENCH_DIR / f"{bench.module}.py").read_text())
        assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body), bench.module


def test_list_prints_one_line_per_benchmark() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "list"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [b.name for b in BENCHMARKS]
    unknown = subprocess.run([sys.executable, "-m", "benchmarks", "no-such-bench"], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
    assert unknown.returncode == 2 and "python -m benchmarks list" in unknown.stderr


def test_a_benchmark_runs_through_the_entry_point_with_its_own_options() -> None:
    # The cheapest one, tiny: it must parse its own options and print its figures.
    done = subprocess.run([sys.executable, "-m", "benchmarks", "json-body", "--history", "0", "--rounds", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert "json_body.loads" in done.stdout and " ms" in done.stdout
    usage = subprocess.run([sys.executable, "-m", "benchmarks", "facts", "--help"], cwd=REPO, capture_output=True,
                           text=True, timeout=60, check=True)
    assert usage.stdout.startswith("usage: python -m benchmarks facts") and "--resources" in usage.stdout


def test_readme_table_names_the_registered_benchmarks() -> None:
    readme = (BENCH_DIR / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \|", readme, flags=re.MULTILINE)
    assert rows == [b.name for b in BENCHMARKS]
    for bench in BENCHMARKS:
        assert f"`python -m benchmarks {bench.name}" in readme, bench.name
