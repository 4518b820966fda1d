"""Two `cds-service serve` instances (real processes) on one real PostgreSQL behave as one service: the scaling
story of the README (more replicas behind one database). A token used on one is refused on the other, a card
issued by one takes feedback on the other, and both are ready."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest

from fhir_fixtures.hook_requests import build_request
from tests.support.auth_tokens import BASE_URL, EHR_ISS, claims, es384_key, mint, write_clients
from tests.support.ops_server import serve, service_env
from tests.support.store_postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.postgres

SERVICE = "/cds-services/foot-calcification-patient-view"
PATIENT = "fc-ckd-metastatic"


def bearer(path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(es384_key(), claims(path))}"}


def test_two_instances_on_one_postgresql_behave_as_one(postgres_url: str, tmp_path: Path) -> None:
    clients = write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    # Both answer behind one public URL (a load balancer): the JWT audience is that URL on either.
    env = service_env(
        CDS_AUTH_MODE="required",
        CDS_TRUSTED_CLIENTS=str(clients),
        CDS_DATABASE_URL=postgres_url,
        CDS_PUBLIC_BASE_URL=BASE_URL,
        CDS_PATIENT_HASH_KEY="two-instances-test-key",
        CDS_LOG_FORMAT="json",
    )
    with serve(env, tmp_path / "a.log", cwd=tmp_path) as a, serve(env, tmp_path / "b.log", cwd=tmp_path) as b:
        for instance in (a, b):
            ready = httpx.get(f"{instance.base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text

        # A replayed jti is refused by the other instance.
        headers = bearer(SERVICE)
        request = build_request(PATIENT, "patient-view", date.today())
        first = httpx.post(f"{a.base}{SERVICE}", json=request, headers=headers, timeout=30)
        assert first.status_code == 200, first.text
        assert httpx.post(f"{b.base}{SERVICE}", json=request, headers=headers, timeout=30).status_code == 401

        # Feedback on a card issued by A is accepted by B.
        card = first.json()["cards"][0]
        entry = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
        feedback = httpx.post(
            f"{b.base}{SERVICE}/feedback", json={"feedback": [entry]}, headers=bearer(f"{SERVICE}/feedback"), timeout=30
        )
        assert feedback.status_code == 200, feedback.text
        assert feedback.json() == {"stored": 1, "new": 1}
        # ... and the same entry sent again to A is a repeat, stored once.
        again = httpx.post(
            f"{a.base}{SERVICE}/feedback", json={"feedback": [entry]}, headers=bearer(f"{SERVICE}/feedback"), timeout=30
        )
        assert again.json() == {"stored": 1, "new": 0}

    assert any("jti already used" in line for line in b.log_lines())  # B logged why it refused
