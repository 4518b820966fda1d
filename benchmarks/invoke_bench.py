"""What one hook call costs in process, step by step, on the bodies of `load_bench.py` (no HTTP, no store).

    python benchmarks/invoke_bench.py [--patients 16] [--rounds 5] [--profile cumulative|tottime]

Parses each body as the route does (`protocol.json_body.loads`), then runs the steps of `invocation.invoke`
in order and times each; the garbage collector is set up as `cds-service serve` sets it (`ops/gc_tuning.py`)
unless `--default-gc`. Prints the mean ms per call of each step, median and best over the rounds (on a shared
machine the best is the steadier figure). With
`--profile`, one more round runs under cProfile and its top functions are printed (the profiler inflates
small Python calls: use it for where, the table for how much).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_patients import bench_requests  # noqa: E402
from cds_service.card_ids import default_card_ids  # noqa: E402
from cds_service.facts.extract import build_facts  # noqa: E402
from cds_service.facts.parse import to_clinical_data  # noqa: E402
from cds_service.gathering.fhir_client import FhirClient  # noqa: E402
from cds_service.gathering.gather import gather  # noqa: E402
from cds_service.gathering.local_codes import recognise_local_codes  # noqa: E402
from cds_service.guideline.config import load_pathway_config  # noqa: E402
from cds_service.invocation import Invocation, invoke  # noqa: E402
from cds_service.pathway.evaluate import evaluate  # noqa: E402
from cds_service.pathway.local import apply_node_settings  # noqa: E402
from cds_service.protocol.json_body import loads  # noqa: E402
from cds_service.protocol.parse import parse_hook_request  # noqa: E402
from cds_service.render.cards import RenderContext, render_cards  # noqa: E402
from cds_service.render.local import localize_cards  # noqa: E402
from cds_service.services import service_by_id  # noqa: E402
from cds_service.tools.run import NoRecorder  # noqa: E402

SERVICE = "foot-calcification-patient-view"
BASE_URL = "http://127.0.0.1:8080"


async def _steps(body: bytes, call: Invocation, today: date, times: dict[str, float]) -> None:
    """The steps of `invoke`, in its order, each timed (the snooze is off: it needs a store)."""
    clock = time.perf_counter

    def lap(name: str, started: float) -> float:
        now = clock()
        times[name] = times.get(name, 0.0) + now - started
        return now

    t = clock()
    value = loads(body)
    t = lap("parse body", t)
    request, context = parse_hook_request(value, call.service.hook)
    t = lap("protocol models", t)
    gathered = await gather(request, context, call.fhir_client, today=today, config=call.pathway)
    t = lap("gather (prefetch)", t)
    raw = recognise_local_codes(gathered, call.pathway)
    data = to_clinical_data(raw, context.patientId)
    t = lap("select + validate", t)
    facts = build_facts(data, hook=call.service.hook, today=today, config=call.pathway)
    t = lap("build facts", t)
    results = apply_node_settings(evaluate(facts, call.pathway), call.pathway)
    t = lap("rules", t)
    cards = render_cards(results, facts, RenderContext(base_url=BASE_URL, service_id=call.service.id,
                                                       hook_instance=request.hookInstance, card_ids=call.card_ids))
    localize_cards(cards, call.pathway, BASE_URL)
    lap("render", t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=("cumulative", "tottime"))
    parser.add_argument("--default-gc", action="store_true", help="leave the garbage collector as Python sets it")
    args = parser.parse_args()

    today = date.today()
    bodies = [json.dumps(b).encode() for b in bench_requests(args.patients, today)]
    service = service_by_id(SERVICE)
    assert service is not None
    call = Invocation(service, BASE_URL, FhirClient(), load_pathway_config(), NoRecorder(), default_card_ids())

    async def warm_up() -> None:
        for body in bodies:
            await invoke(call, loads(body), today=today)

    asyncio.run(warm_up())  # templates, model classes, caches: what a served worker has after its first calls
    if not args.default_gc:
        from cds_service.ops.gc_tuning import tune_garbage_collector

        tune_garbage_collector()

    rounds: list[dict[str, float]] = []
    totals: list[float] = []
    for _ in range(args.rounds):
        times: dict[str, float] = {}

        async def one_round(times: dict[str, float] = times) -> None:
            for body in bodies:
                await _steps(body, call, today, times)

        started = time.perf_counter()
        asyncio.run(one_round())
        totals.append((time.perf_counter() - started) * 1000 / len(bodies))
        rounds.append({name: seconds * 1000 / len(bodies) for name, seconds in times.items()})

    print(f"{len(bodies)} bodies, {args.rounds} rounds; mean ms per call, median and best of the rounds "
          f"({'default' if args.default_gc else 'served'} garbage collector settings)")
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        print(f"  {name:20s} {statistics.median(values):7.2f} ms  (best {min(values):6.2f})")
    print(f"  {'whole call':20s} {statistics.median(totals):7.2f} ms  (best {min(totals):6.2f})")

    if args.profile:
        profile = cProfile.Profile()

        async def profiled() -> None:
            for body in bodies:
                await invoke(call, loads(body), today=today)

        profile.enable()
        asyncio.run(profiled())
        profile.disable()
        pstats.Stats(profile).sort_stats(args.profile).print_stats(45)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
