"""CPU time of the render step: node results -> the response's card JSON, in process.

    python benchmarks/render_bench.py [--runs N] [--patients P1,P2,...]

For each fixture request (default: the fixtures whose responses carry the most cards, on every hook they
answer) the facts and the pathway results are built once; then the render step (`render_cards`) and the
response body it ends in (`json.dumps` of `{"cards": [...]}`) are timed N times. Prints, per request and in
total, the cards rendered and the median and p90 in microseconds of one call. Nothing is cached across
calls except what the service itself caches (templates, value sets).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cds_service.facts.extract import build_facts
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.guideline.config import load_pathway_config
from cds_service.pathway.evaluate import evaluate
from cds_service.protocol.parse import parse_hook_request
from cds_service.render.cards import RenderContext, render_cards
from fhir_fixtures.catalog import HOOKS
from fhir_fixtures.hook_requests import build_request

TODAY = date(2026, 11, 21)
# The fixtures with the most cards and suggestions (infection, malignancy, metabolic, order hooks).
RICHEST = ("fc-ckd-metastatic", "fc-dfi-osteomyelitis", "fc-necrotizing", "fc-fluffy-malignancy",
           "fc-dfi-compartment", "fc-diabetic-ulcer", "fc-tendinitis-no-xr", "fc-xr-ordered")


def _prepared(patient: str, hook: str) -> tuple[Any, Any, RenderContext] | None:
    from tests.support.e2e_run import SERVICE_BY_HOOK

    config = load_pathway_config()
    service = SERVICE_BY_HOOK[hook]
    request, context = parse_hook_request(build_request(patient, hook, TODAY), hook)
    raw = asyncio.run(gather(request, context, FhirClient()))
    data = to_clinical_data(raw, context.patientId)
    facts = build_facts(data, hook=hook, today=TODAY, config=config)
    results = evaluate(facts, config)
    if not results:
        return None
    return results, facts, RenderContext(base_url="https://cds.example.org", service_id=service.id,
                                         hook_instance="d8e4a7b2-bench")


def _time(prepared: tuple[Any, Any, RenderContext], runs: int) -> tuple[list[float], int, int]:
    results, facts, context = prepared
    samples = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        body = json.dumps({"cards": render_cards(results, facts, context)})
        samples.append((time.perf_counter() - start) * 1e6)
        size = len(body)
    return samples, len(results), size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--patients", default=",".join(RICHEST))
    args = parser.parse_args(argv)
    everything: list[float] = []
    print(f"{'request':45} {'cards':>5} {'bytes':>7} {'median us':>10} {'p90 us':>9}")
    for patient in args.patients.split(","):
        for hook in HOOKS:
            prepared = _prepared(patient, hook)
            if prepared is None:
                continue
            _time(prepared, 5)  # warm-up: first-use caches (templates, value sets)
            samples, cards, size = _time(prepared, args.runs)
            everything += samples
            deciles = statistics.quantiles(samples, n=10)
            print(f"{patient + ' ' + hook:45} {cards:>5} {size:>7} {statistics.median(samples):>10.0f} {deciles[-1]:>9.0f}")
    deciles = statistics.quantiles(everything, n=10)
    print(f"{'all requests':45} {'':>5} {'':>7} {statistics.median(everything):>10.0f} {deciles[-1]:>9.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
