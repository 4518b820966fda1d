"""The benchmarks `python -m benchmarks` runs: one line each, name -> module and the question it answers.

Adding a benchmark is one line in `BENCHMARKS` below; its module needs a `main() -> int` that reads its
options from `sys.argv[1:]` (argparse's default), as every `*_bench.py` here does.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BENCHMARKS", "Benchmark", "by_name"]


@dataclass(frozen=True)
class Benchmark:
    name: str  # what `python -m benchmarks <name>` takes
    module: str  # under benchmarks/, without `.py`
    question: str  # one line: what it measures


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("load", "load_bench", "issue 9: the service against a bare-parse baseline under wrk; scaling; fetch mode"),
    Benchmark("what-if", "what_if_bench", "issue 9: what each required part of a served call costs in throughput"),
    Benchmark("http", "http_bench", "a whole hook call over real HTTP: latency percentiles, throughput, peak RSS"),
    Benchmark("invoke", "invoke_bench", "a hook call in process, step by step (parse, protocol, gather, ... render)"),
    Benchmark("facts", "facts_bench", "the facts step on a large prefetch vs validating every resource"),
    Benchmark("gathering", "gathering_bench", "gather() from a FHIR server (real, canned, slow) and from prefetch"),
    Benchmark("hostile", "hostile_bench", "hook calls against hostile FHIR servers and prefetch: time, peak RSS"),
    Benchmark("json-body", "json_body_bench", "parsing a request body: json_body.loads vs orjson and json alone"),
    Benchmark("serving", "serving_bench", "what the connection limits (serving.py) cost under wrk"),
    Benchmark("issued-cards", "issued_cards_bench", "recording issued cards: in the call vs queued for the writer"),
    Benchmark("snooze", "snooze_bench", "the snooze step: lookup in the call and evidence write, on a full store"),
    Benchmark("auth-store", "auth_store_bench", "JWT check and store cost per authenticated request"),
    Benchmark("render", "render_bench", "the render step: node results -> the response's card JSON"),
    Benchmark("screen", "screen_bench", "issue 17: screening a Bulk FHIR export against a bare-parse baseline B"),
)


def by_name(name: str) -> Benchmark | None:
    return next((b for b in BENCHMARKS if b.name == name), None)
