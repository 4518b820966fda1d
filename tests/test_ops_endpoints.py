"""Operations endpoints through HTTP: /healthz, /readyz, /metrics, /openapi.json, /docs, and the request id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from cds_service import __version__
from cds_service.ops.metrics import auth_failure_kind, prefetch_failure_kind
from fhir_fixtures.hook_requests import build_request
from tests.support.auth_tokens import BASE_URL, EHR_ISS, claims, es384_key, mint, write_clients

PATIENT = "fc-ckd-metastatic"
PATIENT_VIEW = "/cds-services/foot-calcification-patient-view"


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The value of one series in /metrics (0 when absent)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_healthz_answers_with_the_version(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_readyz_is_ready_with_every_check_named(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {"database", "trusted_clients", "pathway_config", "card_templates"}


def test_readyz_503_names_the_database_when_it_does_not_answer(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    # A PostgreSQL server that is not there (port 1 on loopback refuses at once).
    store.engine = create_engine("postgresql+psycopg://cds@127.0.0.1:1/cds")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert "does not answer" in body["checks"]["database"]
    assert "127.0.0.1" not in response.text  # the URL stays in the server's configuration


def test_readyz_503_when_the_schema_is_not_at_head(client: TestClient) -> None:
    engine = client.app.state.store.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert "db upgrade" in response.json()["checks"]["database"]


def test_readyz_in_required_mode_reports_trusted_clients(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    clients = write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    client = make_client(auth_mode="required", trusted_clients=clients, public_base_url=BASE_URL)
    body = client.get("/readyz").json()  # no token: probes are unauthenticated
    assert body["checks"]["trusted_clients"] == "ok"


def test_request_id_is_taken_from_the_caller_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "trace-0123456789"}).headers["x-request-id"] == (
        "trace-0123456789"
    )
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    # Not a plain token (spaces, too long): replaced, so it cannot carry text into the logs.
    odd = client.get("/healthz", headers={"X-Request-ID": "patient 12345 john smith"}).headers["x-request-id"]
    assert odd != "patient 12345 john smith" and len(odd) == 32


def test_metrics_count_calls_cards_and_412s(client: TestClient) -> None:
    before_calls = sample(client, "cds_hook_calls_total", service="foot-calcification-patient-view", status="200")
    before_cards = sample(
        client, "cds_cards_issued_total", service="foot-calcification-patient-view", node="metabolic-cause",
        indicator="warning",
    )
    before_412 = sample(client, "cds_prefetch_unavailable_total", reason="fhir_unreachable")
    response = client.post(PATIENT_VIEW, json=build_request(PATIENT, "patient-view", date.today()))
    assert response.status_code == 200
    nodes = [card["source"]["topic"]["code"] for card in response.json()["cards"]]
    assert "metabolic-cause" in nodes
    # No prefetch and a FHIR server that refuses connections: 412.
    unreachable = build_request(PATIENT, "patient-view", date.today(), with_prefetch=False, fhir_server="http://127.0.0.1:1/fhir")
    assert client.post(PATIENT_VIEW, json=unreachable).status_code == 412

    assert sample(client, "cds_hook_calls_total", service="foot-calcification-patient-view", status="200") == before_calls + 1
    assert sample(
        client, "cds_cards_issued_total", service="foot-calcification-patient-view", node="metabolic-cause",
        indicator="warning",
    ) == before_cards + 1
    assert sample(client, "cds_prefetch_unavailable_total", reason="fhir_unreachable") == before_412 + 1
    assert sample(client, "cds_http_request_duration_seconds_count", method="POST", route="/cds-services/{service_id}") >= 2


def test_metric_labels_never_carry_patient_ids_or_tokens(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    clients = write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    client = make_client(auth_mode="required", trusted_clients=clients, public_base_url=BASE_URL)
    token = mint(es384_key(), claims(PATIENT_VIEW))
    request = build_request(PATIENT, "patient-view", date.today(), fhir_server="http://127.0.0.1:1/fhir")
    request["fhirAuthorization"] = {"access_token": "fhir-token-SECRET-4711", "token_type": "Bearer"}
    assert client.post(PATIENT_VIEW, json=request, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # 401s whose reasons quote what the caller sent, and 404s whose path is the caller's.
    forged = mint(es384_key(), claims(PATIENT_VIEW, iss=f"https://{PATIENT}.example"))
    assert client.post(PATIENT_VIEW, json=request, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert client.post(PATIENT_VIEW, json=request, headers={"Authorization": "Bearer fhir-token-SECRET-4711"}).status_code == 401
    assert client.post(f"/cds-services/{PATIENT}", json=request, headers={"Authorization": f"Bearer {token}"}).status_code in (401, 404)
    assert client.get(f"/pathway/{PATIENT}").status_code == 404
    assert client.get(f"/{PATIENT}?patient={PATIENT}").status_code == 404

    metrics = client.get("/metrics").text
    for secret in (PATIENT, "SECRET-4711", token.split(".")[2][:20], "fhir-token"):
        assert secret not in metrics
    assert 'cds_auth_failures_total{reason="untrusted_issuer"}' in metrics
    assert 'cds_auth_failures_total{reason="malformed_token"}' in metrics


def test_metrics_can_be_turned_off(make_client: Callable[..., TestClient]) -> None:
    assert make_client(metrics_enabled=False).get("/metrics").status_code == 404


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("missing Authorization header", "missing_token"),
        ("malformed bearer token: not a compact JWS (header.payload.signature)", "malformed_token"),
        ("JWT jti already used (replay) for Example EHR", "replayed_jti"),
        ("JWT has expired (exp)", "expired"),
        ("JWT aud 'https://x' is not the URL called (https://y)", "wrong_audience"),
        ("JWT iss 'https://x' is not a trusted client", "untrusted_issuer"),
        ("JWT signature does not verify with key 'k' of EHR", "bad_signature"),
        ("JWT alg 'none' refused (none and HS* are never accepted)", "algorithm_refused"),
        ("no key with kid 'patient-123' for EHR", "unknown_key"),
        ("something new", "other"),
    ],
)
def test_auth_failure_reasons_become_fixed_words(reason: str, kind: str) -> None:
    assert auth_failure_kind(reason) == kind


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("no fhirServer in the request", "no_fhir_server"),
        ("FHIR server timed out", "fhir_timeout"),
        ("FHIR server answered 503", "fhir_http_error"),
        ("FHIR server answered more than 10 pages", "too_many_pages"),
    ],
)
def test_prefetch_failure_reasons_become_fixed_words(reason: str, kind: str) -> None:
    assert prefetch_failure_kind(reason) == kind


def test_feedback_outcomes_are_counted_by_node(client: TestClient) -> None:
    response = client.post(PATIENT_VIEW, json=build_request(PATIENT, "patient-view", date.today()))
    card = next(c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "metabolic-cause")
    before = sample(client, "cds_feedback_entries_total", node="metabolic-cause", outcome="overridden")
    entry = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
    assert client.post(f"{PATIENT_VIEW}/feedback", json={"feedback": [entry]}).status_code == 200
    assert sample(client, "cds_feedback_entries_total", node="metabolic-cause", outcome="overridden") == before + 1


def test_openapi_describes_each_service_with_its_models(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths, schemas = document["paths"], document["components"]["schemas"]
    call = paths["/cds-services/foot-calcification-order-select"]["post"]
    assert call["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrderSelectRequest")
    assert call["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CdsResponse")
    assert {"400", "401", "412", "413"} <= set(call["responses"])
    # The request model is the protocol's, with that hook's context model.
    order_select = schemas["OrderSelectRequest"]
    assert order_select["properties"]["hook"]["const"] == "order-select"
    assert order_select["properties"]["context"]["$ref"].endswith("/OrderSelectContext")
    assert set(schemas["OrderSelectContext"]["required"]) >= {"userId", "patientId", "draftOrders", "selections"}
    assert "summary" in schemas["Card"]["properties"] and schemas["Card"]["properties"]["summary"]["maxLength"] == 139
    assert "/cds-services/foot-calcification-patient-view/feedback" in paths
    assert {"/healthz", "/readyz", "/cds-services"} <= set(paths)
    assert document["components"]["securitySchemes"]["ehrJwt"]["scheme"] == "bearer"


def test_docs_page_only_when_enabled(make_client: Callable[..., TestClient]) -> None:
    assert make_client().get("/docs").status_code == 404
    assert make_client(api_docs=True).get("/docs").status_code == 200



def test_the_health_probe_imports_neither_the_store_nor_its_migrations() -> None:
    """Issue 16: /readyz reads what start-up put on the app's state; ops/health.py has no back-arrow to
    cds_service.store (the migration module runs Alembic's machinery at import)."""
    import ast

    import cds_service.ops.health as health

    tree = ast.parse(Path(health.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name.startswith(("cds_service.store", "alembic"))}
