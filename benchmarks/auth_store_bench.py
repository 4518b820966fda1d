"""Cost of authentication and of the store per request, through the real app (in-process TestClient).

    python benchmarks/auth_store_bench.py [--runs N] [--backend sqlite|postgresql|both]

Times N authenticated discovery calls with an ES384 and an RS384 token (signature check plus the jti
INSERT that catches replays), and N authenticated feedback POSTs (one entry each, validated against the
issued card and committed). Prints median and p95 in ms per backend. PostgreSQL runs on the throwaway test
server (tests/support/store_postgres.py; fsync off there, so its numbers leave out disk flushes, which
SQLite's include: synchronous=FULL).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from cds_service.app import create_app  # noqa: E402
from cds_service.settings import Settings  # noqa: E402
from tests.support.auth_tokens import BASE_URL, EHR_ISS, claims, es384_key, mint, rs384_key, write_clients  # noqa: E402
from tests.support.store_cards import make_card, overridden  # noqa: E402

SERVICE = "foot-calcification-patient-view"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"


def timed(runs: int, call: Callable[[int], None]) -> tuple[float, float]:
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def bench(database_url: str, runs: int) -> dict[str, tuple[float, float]]:
    workdir = Path(tempfile.mkdtemp(prefix="cds-bench-"))
    keys = [es384_key(), rs384_key()]
    write_clients(workdir / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [k.public_jwk() for k in keys]}}])
    settings = Settings(
        auth_mode="required", trusted_clients=workdir / "clients.json", database_url=database_url,
        public_base_url=BASE_URL,
    )
    results: dict[str, tuple[float, float]] = {}
    with TestClient(create_app(settings)) as client:
        for key in keys:
            tokens = [mint(key, claims("/cds-services")) for _ in range(runs)]

            def discovery(i: int) -> None:
                response = client.get("/cds-services", headers={"Authorization": f"Bearer {tokens[i]}"})
                assert response.status_code == 200, response.text

            results[f"discovery, {key.alg} token"] = timed(runs, discovery)

        cards = [make_card("bench-node") for _ in range(runs)]
        client.app.state.store.record_issued_cards(  # type: ignore[attr-defined]
            service_id=SERVICE, hook_instance="bench", patient_id="bench-patient", cards=cards
        )
        tokens = [mint(keys[0], claims(FEEDBACK)) for _ in range(runs)]

        def feedback(i: int) -> None:
            response = client.post(
                FEEDBACK, json={"feedback": [overridden(cards[i])]}, headers={"Authorization": f"Bearer {tokens[i]}"}
            )
            assert response.status_code == 200, response.text

        results["feedback POST, ES384 token"] = timed(runs, feedback)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the development-key warning, once per app
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='cds-bench-')}/bench.db"
        else:
            from tests.support.store_postgres import _start

            server = _start()
            url = server.create_database()
        for name, (median, p95) in bench(url, args.runs).items():
            print(f"{backend:10s} {name:28s} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
