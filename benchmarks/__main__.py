"""The one entry point of the benchmarks.

    python -m benchmarks list                 one line per benchmark
    python -m benchmarks <name> [args...]     run it (`<name> --help`: its options)

Each benchmark is its module's `main()`, run with `args` as its command line, so
`python -m benchmarks load --duration 3` is `python benchmarks/load_bench.py --duration 3`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.registry import BENCHMARKS, by_name  # noqa: E402


def _list() -> str:
    width = max(len(b.name) for b in BENCHMARKS)
    return "\n".join(f"{b.name:<{width}}  {b.question}" for b in BENCHMARKS)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nbenchmarks:\n" + _list())
        return 0 if argv else 2
    if argv[0] == "list":
        print(_list())
        return 0
    bench = by_name(argv[0])
    if bench is None:
        print(f"no benchmark {argv[0]!r}; `python -m benchmarks list` names them", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{bench.module}")
    # The benchmark parses sys.argv itself (argparse); its usage line names the command that ran it.
    sys.argv = [f"python -m benchmarks {bench.name}", *argv[1:]]
    return int(module.main() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
