"""What the snooze step costs a hook call: the lookup (in the answer's path) and the write (in the background),
on a SQLite store that already holds many snoozes of other patients.

    python benchmarks/snooze_bench.py [--runs 300] [--snoozes 20000] [--database-url URL]

Times, per call: `SnoozeStore.active_snoozes` (one indexed SELECT) and `SnoozeStore.record_call` (one
transaction with the evidence of the cards shown), for the richest fixture patient's patient-view cards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(REPO))
    from sqlalchemy import insert

    from cds_service.facts.extract import build_facts
    from cds_service.facts.parse import to_clinical_data
    from cds_service.gathering.fhir_client import FhirClient
    from cds_service.gathering.gather import gather
    from cds_service.guideline.config import load_pathway_config
    from cds_service.pathway.evaluate import evaluate
    from cds_service.protocol.parse import parse_hook_request
    from cds_service.settings import Settings
    from cds_service.snooze import evidence_items
    from cds_service.store.models import IssuedCard, Snooze
    from cds_service.store.snooze import SnoozeStore
    from cds_service.store.store import open_store
    from fhir_fixtures.hook_requests import build_request

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--snoozes", type=int, default=20000, help="snoozes of other patients already stored")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        store = open_store(Settings(auth_mode="disabled", database_url=url))
        snoozes = SnoozeStore.beside(store)
        now = datetime.now(timezone.utc)
        cards = [{"uuid": str(uuid.uuid4()), "service_id": "s", "node_id": "initial-radiograph", "hook_instance": str(i),
                  "patient_hash": snoozes.patient_hash(f"other-{i}"), "issued_at": now} for i in range(args.snoozes)]
        with store.engine.begin() as connection:
            if cards:
                connection.execute(insert(IssuedCard), cards)
                connection.execute(insert(Snooze), [
                    {"card_uuid": c["uuid"], "patient_hash": c["patient_hash"], "node_id": c["node_id"],
                     "evidence": "[]", "created_at": now} for c in cards])

        today = date.today()
        body = build_request("fc-ckd-metastatic", "patient-view", today)
        request, context = parse_hook_request(body, "patient-view")
        raw = asyncio.run(gather(request, context, FhirClient()))
        config = load_pathway_config()
        facts = build_facts(to_clinical_data(raw, context.patientId), hook="patient-view", today=today, config=config)
        results = evaluate(facts, config)
        keys = {r.node_id: snoozes.evidence_keys(facts.patient_id, evidence_items(r, facts)) for r in results}

        lookups, writes = [], []
        for i in range(args.runs):
            started = time.perf_counter()
            snoozes.active_snoozes(facts.patient_id, [r.node_id for r in results], days=30)
            lookups.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            snoozes.record_call(service_id="s", hook_instance=f"bench-{i}", evidence=keys, snoozed={})
            writes.append((time.perf_counter() - started) * 1000)
        store.close()

    def show(name: str, values: list[float]) -> None:
        values = sorted(values)
        p = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
        print(f"{name}: p50 {statistics.median(values):.2f} ms, p90 {p(0.9):.2f} ms, p99 {p(0.99):.2f} ms")

    print(f"{len(results)} cards, {args.snoozes} snoozes of other patients stored, {args.runs} runs, {url.split(':')[0]}")
    show("lookup (in the answer's path)", lookups)
    show("write (background thread)", writes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
