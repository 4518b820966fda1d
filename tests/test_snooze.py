"""Snooze after an override, through HTTP and the real store (SQLite and PostgreSQL): a card overridden with
a reason is not shown again for that patient for `snooze_days`, across hooks and instances, unless its
evidence changed; the feedback report counts what was snoozed."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cds_service.app import create_app
from cds_service.settings import Settings
from cds_service.store.models import CardEvidence, Snooze
from fhir_fixtures.hook_requests import build_request
from tests.support.store_postgres import store_database_url

__all__ = ["store_database_url"]  # the fixture, imported for pytest

SERVICES = {
    "patient-view": "foot-calcification-patient-view",
    "order-select": "foot-calcification-order-select",
    "order-sign": "foot-calcification-order-sign",
}
TODAY = date.today()


def call(client: TestClient, patient: str, hook: str = "patient-view", *, change: Callable[[dict], None] | None = None) -> dict[str, dict]:
    request = build_request(patient, hook, TODAY)
    request["hookInstance"] = str(uuid.uuid4())  # a new chart opening
    if change is not None:
        change(request)
    response = client.post(f"/cds-services/{SERVICES[hook]}", json=request)
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


def override(client: TestClient, card: dict, hook: str = "patient-view", *, with_reason: bool = True) -> None:
    entry: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": datetime.now(timezone.utc).isoformat(),
        "overrideReason": {"userComment": "seen it"},
    }
    if with_reason:
        entry["overrideReason"]["reason"] = card["overrideReasons"][0] if card.get("overrideReasons") else {
            "system": "http://testserver/override-reason", "code": "other", "display": "Other reason"}
    response = client.post(f"/cds-services/{SERVICES[hook]}/feedback", json={"feedback": [entry]})
    assert response.status_code == 200, response.text


def report(client: TestClient) -> dict[str, Any]:
    client.app.state.snooze.store.flush()  # the per-call write is in the background
    return {node.node_id: node for node in client.app.state.store.feedback_report()}


def add_new_condition(request: dict) -> None:
    """A new problem on the chart: a second calcification Condition, recorded today."""
    existing = next(
        entry["resource"]
        for bundle in request["prefetch"].values() if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle"
        for entry in bundle.get("entry", []) if entry["resource"]["resourceType"] == "Condition"
    )
    new = copy.deepcopy(existing)
    new["id"] = "new-problem-today"
    new["recordedDate"] = TODAY.isoformat()
    new.pop("onsetDateTime", None)
    for bundle in request["prefetch"].values():
        if isinstance(bundle, dict) and any(e["resource"].get("id") == existing["id"] for e in bundle.get("entry", [])):
            bundle["entry"].append({"fullUrl": f"http://fixtures.example.org/fhir/Condition/{new['id']}", "resource": new})


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def test_an_overridden_card_is_snoozed_for_that_patient_only(client: TestClient) -> None:
    first = call(client, "fc-tendinitis-no-xr")
    override(client, first["initial-radiograph"])
    again = call(client, "fc-tendinitis-no-xr")
    assert "initial-radiograph" not in again
    assert set(again) == set(first) - {"initial-radiograph"}  # the other cards stay
    counts = report(client)
    assert counts["initial-radiograph"].snoozed == 1
    assert counts["initial-radiograph"].overridden == 1
    assert counts["conservative-care"].snoozed == 0


def test_another_patient_still_gets_the_card(client: TestClient) -> None:
    tendinitis = call(client, "fc-tendinitis-no-xr")
    override(client, tendinitis["conservative-care"])
    assert "conservative-care" not in call(client, "fc-tendinitis-no-xr")
    assert "conservative-care" in call(client, "fc-mass-undetermined")


def test_overriding_a_card_snoozes_its_own_node_not_the_ones_folded_into_it(client: TestClient) -> None:
    """The conservative-care card carries the classification (folded): the override is about the card's own
    advice, so the classification stays in the response, on the next card it belongs to."""
    first = call(client, "fc-tendinitis-no-xr")
    nodes = "org.foot-calcification-cds.nodes"
    assert first["conservative-care"]["extension"][nodes] == ["conservative-care", "differential-diagnosis"]
    override(client, first["conservative-care"])
    again = call(client, "fc-tendinitis-no-xr")
    assert set(again) == {"initial-radiograph"}
    assert again["initial-radiograph"]["extension"][nodes] == ["initial-radiograph", "differential-diagnosis"]


def test_the_snooze_holds_across_hooks(client: TestClient) -> None:
    override(client, call(client, "fc-diabetic-ulcer")["osteomyelitis-rule-out"])
    assert "osteomyelitis-rule-out" not in call(client, "fc-diabetic-ulcer", "order-sign")
    assert report(client)["osteomyelitis-rule-out"].snoozed == 1


def test_new_evidence_lifts_the_snooze(client: TestClient) -> None:
    override(client, call(client, "fc-tendinitis-no-xr")["conservative-care"])
    assert "conservative-care" not in call(client, "fc-tendinitis-no-xr")
    back = call(client, "fc-tendinitis-no-xr", change=add_new_condition)
    assert "conservative-care" in back


def test_an_override_without_a_coded_reason_snoozes_nothing(client: TestClient) -> None:
    override(client, call(client, "fc-tendinitis-no-xr")["initial-radiograph"], with_reason=False)
    assert "initial-radiograph" in call(client, "fc-tendinitis-no-xr")
    assert report(client)["initial-radiograph"].snoozed == 0


def test_critical_cards_are_not_snoozed_unless_configured(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    override(client, call(client, "fc-necrotizing")["urgent-surgery"])
    assert "urgent-surgery" in call(client, "fc-necrotizing")

    path = tmp_path / "pathway.toml"
    path.write_text("[nodes.urgent-surgery]\nsnooze = true\n", encoding="utf-8")
    configured = make_client(pathway_config=path)
    override(configured, call(configured, "fc-necrotizing")["urgent-surgery"])
    assert "urgent-surgery" not in call(configured, "fc-necrotizing")


def test_zero_days_turns_snoozing_off(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    path = tmp_path / "pathway.toml"
    path.write_text("snooze_days = 0\n", encoding="utf-8")
    client = make_client(pathway_config=path)
    override(client, call(client, "fc-tendinitis-no-xr")["initial-radiograph"])
    assert "initial-radiograph" in call(client, "fc-tendinitis-no-xr")
    client.app.state.snooze.store.flush()
    with client.app.state.store.engine.connect() as connection:
        assert connection.execute(select(CardEvidence)).all() == []  # nothing recorded when off


def test_the_snooze_ends_after_snooze_days(client: TestClient) -> None:
    override(client, call(client, "fc-tendinitis-no-xr")["initial-radiograph"])
    assert "initial-radiograph" not in call(client, "fc-tendinitis-no-xr")
    engine = client.app.state.store.engine
    with engine.begin() as connection:
        connection.execute(update(Snooze).values(created_at=datetime.now(timezone.utc) - timedelta(days=31)))
    assert "initial-radiograph" in call(client, "fc-tendinitis-no-xr")


def test_the_store_keeps_no_patient_id_or_reference(client: TestClient) -> None:
    override(client, call(client, "fc-tendinitis-no-xr")["initial-radiograph"])
    client.app.state.snooze.store.flush()
    with client.app.state.store.engine.connect() as connection:
        rows = [*connection.execute(select(CardEvidence)).all(), *connection.execute(select(Snooze)).all()]
    assert rows
    assert "fc-tendinitis-no-xr" not in repr(rows)  # ids and references ("Condition/fc-tendinitis-...") are hashed


def test_snooze_is_shared_by_instances_on_one_database(store_database_url: str) -> None:
    def app() -> TestClient:
        settings = Settings(auth_mode="disabled", database_url=store_database_url, public_base_url="http://testserver")
        return TestClient(create_app(settings))

    with app() as first, app() as second:
        override(first, call(first, "fc-tendinitis-no-xr")["initial-radiograph"])
        assert "initial-radiograph" not in call(second, "fc-tendinitis-no-xr")
        assert report(second)["initial-radiograph"].snoozed == 1
