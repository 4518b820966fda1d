"""Cards from node results: protocol validity, seed quotes, source/topic, stable uuids, FHIR-valid
suggestions, override reasons, and markdown escaping of record text."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.guideline.nodes import pathway_spec
from cds_service.pathway.evaluate import evaluate
from cds_service.protocol.response import Card, CdsResponse
from cds_service.render.cards import RenderContext, render_cards
from tests.support.pathway_facts import CONFIG, calcification, facts
from tests.support.pathway_scenarios import SCENARIOS

BASE = "https://cds.example.org"
CONTEXT = RenderContext(base_url=BASE, service_id="foot-calcification-patient-view", hook_instance="hook-1")


def _cards(f, context=CONTEXT):  # type: ignore[no-untyped-def]
    """The rendered JSON, read through the protocol models: each card must satisfy the contract."""
    return [Card.model_validate(card) for card in render_cards(evaluate(f, CONFIG), f, context)]


ALL = [(name, card) for name, f in SCENARIOS.items() for card in _cards(f)]


def test_rendered_json_is_exactly_what_the_protocol_models_would_issue() -> None:
    """Cards are built as plain JSON on the hot path; the pydantic models are the contract they must meet:
    valid, and nothing the models would drop or add (no nulls, no empty arrays)."""
    from fhir_fixtures.catalog import HOOKS, PATIENTS
    from tests.support.e2e_run import run_fixture

    for f in SCENARIOS.values():
        for card in render_cards(evaluate(f, CONFIG), f, CONTEXT):
            assert Card.model_validate(card).model_dump(mode="json", exclude_none=True) == card
    responses = [run_fixture(p, h, date(2026, 11, 21))[1] for p in PATIENTS for h in HOOKS]
    assert sum(len(r["cards"]) for r in responses) > 50
    for response in responses:
        assert CdsResponse.model_validate(response).to_json() == response


def test_scenarios_cover_every_node_in_every_hook_it_serves() -> None:
    covered = {(SCENARIOS[name].hook, card.source.topic.code) for name, card in ALL}
    wanted = {(hook, node.id) for node in pathway_spec().nodes for hook in node.hooks}
    assert wanted <= covered, sorted(wanted - covered)


@pytest.mark.parametrize(("name", "card"), ALL, ids=[f"{n}:{c.source.topic.code}" for n, c in ALL])
def test_every_card_is_complete_and_valid(name: str, card: Card) -> None:
    node = pathway_spec().node(card.source.topic.code)
    assert node is not None
    Card.model_validate(card.model_dump())  # summary length, selectionBehavior, override display...
    assert len(card.summary) < 140 and "\\" not in card.summary and "{" not in card.summary
    assert card.indicator in ("info", "warning", "critical")
    assert card.source.label == pathway_spec().label
    assert card.source.url == f"{BASE}/pathway/{node.id}"
    assert card.source.topic.system == f"{BASE}/pathway" and card.source.topic.display == node.title
    # A card quotes the node's seeds that support its advice (nodes.toml `rules` / `when`), at least one
    # unconditional one, each under its citation by document title and section.
    quoted = [seed for seed in node.seeds if f"> {seed.quote}" in card.detail]
    assert any(not seed.when for seed in quoted), card.detail
    for seed in quoted:
        assert f"({seed.source})" in card.detail or (
            f"> {seed.quote} (ref. {seed.reference})" in card.detail and f"({seed.where})" in card.detail
        ) or (not seed.reference and f"({seed.where})" in card.detail)
    assert "seed 0" not in card.detail and "\u00a7" not in card.detail
    assert "What in the record led to this" in card.detail
    for reason in card.overrideReasons or ():
        assert reason.system == f"{BASE}/override-reason" and reason.display


def test_every_suggested_resource_is_valid_r4_and_drafted_for_the_patient() -> None:
    resources = [a.resource for _, c in ALL for s in c.suggestions or () for a in s.actions or () if a.resource]
    assert len(resources) > 20
    for resource in resources:
        model = ServiceRequest.model_validate(resource)
        assert model.status == "draft" and model.intent in ("proposal", "order")
        assert model.subject.reference == "Patient/pat-1" and model.id
        assert resource == model.model_dump(mode="json", exclude_none=True)
        codings = resource["code"].get("coding", [])
        assert codings or resource["code"]["text"]  # text only when no code exists


def test_uuids_are_stable_per_hook_instance_and_unique() -> None:
    f = SCENARIOS["dfi-severe-urgent"]
    first, again = _cards(f), _cards(f)
    assert [c.model_dump() for c in first] == [c.model_dump() for c in again]
    other = _cards(f, replace(CONTEXT, hook_instance="hook-2"))
    assert {c.uuid for c in first}.isdisjoint({c.uuid for c in other})
    ids = [c.uuid for c in first] + [s.uuid for c in first for s in c.suggestions or ()]
    ids += [a.resource["id"] for c in first for s in c.suggestions or () for a in s.actions or () if a.resource]
    assert len(ids) == len(set(ids))


def test_urgent_referral_is_stat_and_timed_follow_ups_carry_a_period() -> None:
    cards = {c.source.topic.code: c for c in _cards(SCENARIOS["dfi-severe-urgent"])}
    (action,) = cards["urgent-surgery"].suggestions[0].actions
    assert action.type == "create" and action.resource["priority"] == "stat"
    (visit,) = cards["dfi-reassessment"].suggestions[0].actions
    assert visit.resource["occurrencePeriod"] == {"start": "2026-11-23", "end": "2026-11-25"}
    assert visit.resource["code"]["coding"][0]["code"] == "185389009"


def test_order_actions_delete_by_resource_id_and_update_the_whole_draft() -> None:
    cards = {c.source.topic.code: c for c in _cards(SCENARIOS["order-select"])}
    swap = cards["advanced-imaging"].suggestions[0]
    assert [a.type for a in swap.actions] == ["delete", "create"] and swap.actions[0].resourceId == "ServiceRequest/ct"
    repeat = {c.source.topic.code: c for c in _cards(SCENARIOS["order-sign"])}["repeat-radiograph"]
    (update,) = repeat.suggestions[0].actions
    assert update.type == "update" and update.resource["id"] == "xr-early"
    assert "occurrenceDateTime" not in update.resource
    assert update.resource["occurrencePeriod"] == {"start": "2026-11-29", "end": "2026-12-13"}
    assert update.resource["code"]["coding"][0]["code"] == "36305-1"  # the rest of the draft is kept


def test_probe_to_bone_is_suggested_by_text_only() -> None:
    cards = {c.source.topic.code: c for c in _cards(SCENARIOS["diabetic-ulcer-eschar"])}
    ptb = next(s for s in cards["osteomyelitis-rule-out"].suggestions if "probe" in s.label.lower())
    code = ptb.actions[0].resource["code"]
    assert "coding" not in code and "probe" in code["text"].lower()


def test_record_text_cannot_inject_markdown() -> None:
    hostile = calcification(label="Calcinosis [click](https://evil.example) *now* <script>")
    (card, *_) = _cards(facts(problems=(hostile,)))
    assert "[click](https" not in card.detail and "<script>" not in card.detail
    assert "\\[click\\]" in card.detail and "\\<script\\>" in card.detail


def test_outside_the_pathway_the_response_is_exactly_empty() -> None:
    f = facts(problems=())
    assert CdsResponse(cards=tuple(_cards(f))).to_json() == {"cards": []}


def test_card_details_show_dates_and_values() -> None:
    cards = {c.source.topic.code: c for c in _cards(SCENARIOS["metabolic"])}
    detail = cards["metabolic-cause"].detail
    assert "PTH 180 pg/mL" in detail and "high" in detail and "2026-11-11" in detail
    assert "Chronic kidney disease stage 4" in detail


def test_radiograph_replacing_a_draft_keeps_the_drafts_indication():
    from datetime import date as _date

    from cds_service.gathering.fhir_client import FhirClient
    from cds_service.guideline.config import load_pathway_config
    from cds_service.invocation import Invocation
    from cds_service.services import service_by_id
    from fhir_fixtures import build_request  # the fixture whose only reason to be in the pathway is the order
    from tests.support.e2e_run import run_invoke

    class _Recorder:
        def record_issued_cards(self, **_: object) -> None:
            pass

    today = _date(2026, 11, 21)
    body = build_request("fc-order-only", "order-sign", today)
    drafted = {
        e["resource"]["id"]: e["resource"] for e in body["context"]["draftOrders"]["entry"]
    }
    call = Invocation(service_by_id("foot-calcification-order-sign"), "http://x", FhirClient(), load_pathway_config(None), _Recorder())
    (card,) = [c for c in run_invoke(call, body, today=today)["cards"] if c["source"]["topic"]["code"] == "initial-radiograph"]
    replace = next(s for s in card["suggestions"] if s["isRecommended"])
    deleted = [a["resourceId"].split("/")[1] for a in replace["actions"] if a["type"] == "delete"]
    created = next(a["resource"] for a in replace["actions"] if a["type"] == "create")
    assert created["reasonCode"] == [rc for d in deleted for rc in drafted[d].get("reasonCode", [])]
    assert created["reasonCode"], "the fixture's drafted study carries an indication"


def test_conservative_care_says_when_physiotherapy_is_already_ordered():
    from datetime import date as _date

    from cds_service.gathering.fhir_client import FhirClient
    from cds_service.guideline.config import load_pathway_config
    from cds_service.invocation import Invocation
    from cds_service.services import service_by_id
    from fhir_fixtures import build_request
    from tests.support.e2e_run import run_invoke

    class _Recorder:
        def record_issued_cards(self, **_: object) -> None:
            pass

    today = _date(2026, 11, 21)
    call = Invocation(service_by_id("foot-calcification-patient-view"), "http://x", FhirClient(),
                      load_pathway_config(None), _Recorder())
    cards = {c["source"]["topic"]["code"]: c for c in run_invoke(call, build_request("fc-all-done", "patient-view", today), today=today)["cards"]}
    assert "already ordered" in cards["conservative-care"]["detail"]
    assert "suggestions" not in cards["conservative-care"]
    cards = {c["source"]["topic"]["code"]: c for c in run_invoke(call, build_request("fc-tendinitis-no-xr", "patient-view", today), today=today)["cards"]}
    assert "already ordered" not in cards["conservative-care"]["detail"]


def test_every_suggestion_of_every_card_does_something() -> None:
    """Accepting a suggestion is reported in feedback as following the card; a suggestion without actions
    (e.g. "keep the order") would record an override as acceptance. Scenarios and every fixture, every hook."""
    from fhir_fixtures.catalog import HOOKS, PATIENTS
    from tests.support.e2e_run import run_fixture

    cards = [card.model_dump(mode="json", exclude_none=True) for _, card in ALL]
    cards += [c for p in PATIENTS for h in HOOKS for c in run_fixture(p, h, date(2026, 11, 21))[1]["cards"]]
    suggestions = [(c["source"]["topic"]["code"], s) for c in cards for s in c.get("suggestions", [])]
    assert len(suggestions) > 50
    empty = [(node, s["label"]) for node, s in suggestions if not s.get("actions")]
    assert not empty, empty


def test_keeping_a_drafted_study_is_an_override_with_the_spec_reasons() -> None:
    from tests.support.e2e_run import run_fixture

    for hook in ("order-select", "order-sign"):
        (card,) = [c for c in run_fixture("fc-tendinitis-no-xr", hook, date(2026, 11, 21))[1]["cards"]
                   if c["source"]["topic"]["code"] == "initial-radiograph"]
        (replace,) = card["suggestions"]
        assert [a["type"] for a in replace["actions"]] == ["delete", "create"] and replace["isRecommended"]
        assert [r["code"] for r in card["overrideReasons"]] == ["done-elsewhere", "urgent-clinical-need", "other"]
        assert "dismiss" in card["detail"]
