"""The request-body parser (protocol/json_body.py) against orjson and json alone, on a real hook request.

    python benchmarks/json_body_bench.py [--history 40] [--rounds 15]

The body is the richest fixture patient's patient-view request with `--history` older copies of each lab
result (as benchmarks/http_bench.py builds it; 40 gives ~180 KB). Each figure is the best of `--rounds`
rounds, to see through a busy machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from cds_service.protocol.json_body import loads  # noqa: E402


def _refusing_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def main() -> int:
    from http_bench import add_history, default_request  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    body = default_request()
    add_history(body, args.history)
    raw = json.dumps(body).encode()
    print(f"body: {len(raw) / 1024:.0f} KB")
    candidates = {
        "json_body.loads (orjson + depth + duplicate keys)": lambda: loads(raw),
        "orjson.loads alone": lambda: orjson.loads(raw),
        "json.loads alone": lambda: json.loads(raw),
        "json.loads refusing duplicate keys": lambda: json.loads(raw, object_pairs_hook=_refusing_duplicates),
    }
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(args.rounds):
        for name, parse in candidates.items():
            best[name] = min(best[name], min(timeit.repeat(parse, number=50, repeat=3)) / 50)
    for name, seconds in best.items():
        print(f"{name:<52} {seconds * 1e3:6.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
