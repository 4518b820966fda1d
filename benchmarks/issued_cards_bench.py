"""What recording issued cards costs a hook call: written in the call (one transaction each) against
queued for the background writer (store/writer.py), and how fast the writer drains a burst.

    python benchmarks/issued_cards_bench.py [--calls 500] [--database-url sqlite:///...]

Each call records the cards of the richest fixture patient's patient-view answer (with their suggestions),
as the service does. Without --database-url it uses a fresh SQLite file (WAL, synchronous=FULL, as served).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cds_service.settings import Settings  # noqa: E402
from cds_service.store.store import open_store  # noqa: E402
from cds_service.store.writer import IssuedCardWriter  # noqa: E402
from tests.support.e2e_run import BASE_URL, SERVICE_BY_HOOK  # noqa: E402

SERVICE = SERVICE_BY_HOOK["patient-view"].id


def sample_cards() -> list:
    from fastapi.testclient import TestClient

    from cds_service.app import create_app
    from cds_service.protocol.response import Card
    from fhir_fixtures import build_request

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(auth_mode="disabled", database_url=f"sqlite:///{directory}/s.db", public_base_url=BASE_URL)
        with TestClient(create_app(settings)) as client:
            body = build_request("fc-dfi-osteomyelitis", "patient-view", date.today())
            cards = client.post(f"/cds-services/{SERVICE}", json=body).json()["cards"]
    return [Card.model_validate(card) for card in cards]


def fresh(cards: list) -> list:
    """The same cards with new uuids, so every call inserts new rows."""
    out = []
    for card in cards:
        suggestions = tuple(s.model_copy(update={"uuid": str(uuid.uuid4())}) for s in card.suggestions or ())
        out.append(card.model_copy(update={"uuid": str(uuid.uuid4()), "suggestions": suggestions or None}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    cards = sample_cards()
    print(f"{len(cards)} cards, {sum(len(c.suggestions or ()) for c in cards)} suggestions per call; {args.calls} calls")
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{directory}/bench.db"
        store = open_store(Settings(auth_mode="disabled", database_url=url))
        batches = [fresh(cards) for _ in range(args.calls * 2)]

        inline = []
        for batch in batches[: args.calls]:
            started = time.perf_counter()
            store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id="p", cards=batch)
            inline.append(time.perf_counter() - started)

        writer = IssuedCardWriter(store)
        queued = []
        drain_started = time.perf_counter()
        for batch in batches[args.calls :]:
            started = time.perf_counter()
            writer.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id="p", cards=batch)
            queued.append(time.perf_counter() - started)
        writer.flush()
        drained = time.perf_counter() - drain_started
        writer.close()
        store.close()

    def line(name: str, samples: list[float]) -> str:
        ordered = sorted(samples)
        p99 = ordered[int(len(ordered) * 0.99) - 1]
        return f"{name:<42} median {statistics.median(samples) * 1e3:7.3f} ms   p99 {p99 * 1e3:7.3f} ms"

    print(line("in the call: one transaction per call", inline))
    print(line("queued for the writer (the call's cost)", queued))
    print(f"{'one commit per call: calls written per second':<42} {args.calls / sum(inline):7.0f}")
    print(f"{'writer, group commits: calls written per s':<42} {args.calls / drained:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
