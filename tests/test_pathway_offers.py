"""One response, one voice: each order is offered by one card only, and a routine follow-up card yields to
a critical card (nodes.toml `[one_offer_per_order]` and `yields_to`, local defaults)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from importlib import resources

import pytest

from cds_service.facts.model import CalcificationClass, Evidence, MorphologyHint
from cds_service.guideline.nodes import parse_pathway_spec, pathway_spec
from cds_service.guideline.valuesets import orderable
from cds_service.pathway import evaluate as evaluate_module
from cds_service.pathway.offers import one_offer_per_order
from cds_service.pathway.result import CreateOrder, DeleteDraft, NodeResult, OfferedElsewhere, ProposedSuggestion
from cds_service.render.cards import RenderContext, render_cards
from fhir_fixtures.catalog import HOOKS, PATIENTS
from tests.support.e2e_run import run_fixture
from tests.support.pathway_facts import CONFIG, TODAY, classified, evidence, facts, results_by_node, xr
from tests.support.pathway_scenarios import SCENARIOS

GROUPS = {"mr-foot-wo": "mri", "mr-foot-left-wo": "mri", "referral-surgeon": "surgery",
          "referral-orthopedics": "surgery", "referral-podiatry": "surgery"}
MALIGNANCY = dict(
    malignancy=(evidence("Primary osteosarcoma", "Condition/os", 2),),
    morphology=(MorphologyHint("osteosarcoma", Evidence("amorphous, fluffy, confluent", "DiagnosticReport/r1",
                                                        TODAY - timedelta(days=4)), malignant=True),),
)


def _create(key: str, orderable_name: str, label: str | None = None) -> ProposedSuggestion:
    return ProposedSuggestion(key=key, label=label or key, actions=(CreateOrder(orderable=orderable_name),))


def _result(node_id: str, *suggestions: ProposedSuggestion) -> NodeResult:
    return NodeResult(node_id=node_id, indicator="info", evidence=(), suggestions=suggestions,
                      selection_behavior="any" if suggestions else None)


def test_the_first_card_offers_and_the_other_points_to_it() -> None:
    first = _result("malignancy-referral", _create("mri-urgent", "mr-foot-left-wo", "Urgent MRI of the foot"))
    second = _result("advanced-imaging", _create("mri", "mr-foot-wo"), _create("us", "us-lower-extremity-soft-tissue"))
    out = one_offer_per_order([first, second], lambda o: GROUPS.get(o, o))
    assert out[0] == first
    assert [s.key for s in out[1].suggestions] == ["us"] and out[1].selection_behavior == "any"
    assert out[1].offered_elsewhere == (OfferedElsewhere("Urgent MRI of the foot", "malignancy-referral"),)


def test_a_card_left_without_suggestions_has_no_selection_behavior() -> None:
    urgent = _result("urgent-surgery", _create("stat", "referral-surgeon", "Urgent referral to surgeon (stat)"))
    referral = _result("surgical-referral", _create("ortho", "referral-orthopedics"), _create("pod", "referral-podiatry"))
    out = one_offer_per_order([urgent, referral], lambda o: GROUPS.get(o, o))
    assert out[1].suggestions == () and out[1].selection_behavior is None
    # both dropped suggestions point to the same offer: named once
    assert out[1].offered_elsewhere == (OfferedElsewhere("Urgent referral to surgeon (stat)", "urgent-surgery"),)


def test_a_replacement_of_a_draft_is_the_offer_that_stays() -> None:
    plain = _result("osteomyelitis-rule-out", _create("mri", "mr-foot-wo", "Order MRI of the foot"))
    swap = ProposedSuggestion(key="swap", label="Order MRI of the foot instead of CT",
                              actions=(DeleteDraft("ServiceRequest/ct", "CT foot"), CreateOrder("mr-foot-left-wo")))
    out = one_offer_per_order([plain, _result("advanced-imaging", swap)], lambda o: GROUPS.get(o, o))
    assert out[0].suggestions == () and out[0].offered_elsewhere == (
        OfferedElsewhere("Order MRI of the foot instead of CT", "advanced-imaging"),)
    assert out[1].suggestions == (swap,)


def test_a_suggestion_is_kept_while_one_of_its_orders_is_offered_nowhere_else() -> None:
    both = ProposedSuggestion(key="both", label="MRI and podiatry",
                              actions=(CreateOrder("mr-foot-wo"), CreateOrder("referral-podiatry")))
    first = _result("malignancy-referral", _create("mri", "mr-foot-wo"))
    out = one_offer_per_order([first, _result("advanced-imaging", both)], lambda o: GROUPS.get(o, o))
    assert out[1].suggestions == (both,) and out[1].offered_elsewhere == ()


def test_malignancy_keeps_the_referral_and_the_surgical_card_names_it() -> None:
    results = results_by_node(SCENARIOS["malignant-painful"])
    assert results["malignancy-referral"].suggestions[0].key == "refer-orthopedics-urgent"
    surgical = results["surgical-referral"]
    assert surgical.suggestions == () and surgical.selection_behavior is None
    assert surgical.offered_elsewhere == (
        OfferedElsewhere("Urgent referral to an orthopedic surgeon", "malignancy-referral"),)


def test_a_suspected_malignancy_settles_the_uncertain_diagnosis_and_asks_for_the_mri_itself() -> None:
    """Advanced imaging is "when diagnosis remains uncertain" (seed 000): beside the malignancy card, which
    asks for the urgent MRI, there is no "diagnosis still uncertain" card (nodes.toml advanced-imaging rule)."""
    f = facts(classification=classified(CalcificationClass.UNDETERMINED), labs={}, imaging=(xr(20),), **MALIGNANCY)
    results = results_by_node(f)
    assert "advanced-imaging" not in results
    offered = {a.orderable for s in results["malignancy-referral"].suggestions for a in s.actions}
    assert offered & {"mr-foot-wo", "mr-foot-right-wo", "mr-foot-left-wo"}
    cards = render_cards(list(results.values()), f, RenderContext("https://cds.example.org", "s", "h"))
    assert "advanced-imaging" not in {c["source"]["topic"]["code"] for c in cards}


@pytest.mark.parametrize("critical", ["malignancy", "urgent-surgery"])
def test_repeat_radiograph_yields_to_a_critical_card(critical: str) -> None:
    base = dict(imaging=(xr(10),))
    assert "repeat-radiograph" in results_by_node(facts(**base))
    extra = MALIGNANCY if critical == "malignancy" else {
        "urgent_surgical": (evidence("Compartment syndrome of foot", "Condition/cs", 1),)}
    assert "repeat-radiograph" not in results_by_node(facts(**base, **extra))


def test_which_card_yields_is_read_from_nodes_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    text = resources.files("cds_service.guideline").joinpath("nodes.toml").read_text(encoding="utf-8")
    line = 'yields_to = ["malignancy-referral", "urgent-surgery"]\n'
    assert line in text
    monkeypatch.setattr(evaluate_module, "pathway_spec", lambda: parse_pathway_spec(text.replace(line, "")))
    assert "repeat-radiograph" in results_by_node(facts(imaging=(xr(10),), **MALIGNANCY))


def test_nodes_toml_refuses_yielding_to_an_unknown_node() -> None:
    text = resources.files("cds_service.guideline").joinpath("nodes.toml").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="yields to"):
        parse_pathway_spec(text.replace('yields_to = ["malignancy-referral"', 'yields_to = ["malignancy"'))


def test_every_grouped_orderable_exists_and_is_in_one_group() -> None:
    spec = pathway_spec()
    assert spec.one_offer_rule.startswith("local default:")
    for name in spec.same_order:
        assert orderable(name).text
    assert spec.order_group("referral-podiatry") == spec.order_group("referral-surgeon")
    assert spec.order_group("lab-crp") == "lab-crp"


def _offers_by_order(cards: list[dict]) -> dict[str, set[str]]:
    spec = pathway_spec()
    by_code = {}
    for name in {o for n in spec.nodes for o in n.orderables}:
        for coding in orderable(name).codeable_concept().get("coding", []):
            by_code[coding["code"]] = spec.order_group(name)
    offered: dict[str, set[str]] = defaultdict(set)
    for card in cards:
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                for coding in (action.get("resource") or {}).get("code", {}).get("coding", []):
                    if action["type"] == "create":
                        offered[by_code.get(coding["code"], coding["code"])].add(card["source"]["topic"]["code"])
    return offered


def test_no_fixture_response_offers_one_order_on_two_cards() -> None:
    checked = 0
    for patient in PATIENTS:
        for hook in HOOKS:
            cards = run_fixture(patient, hook, date(2026, 11, 21))[1]["cards"]
            twice = {order: nodes for order, nodes in _offers_by_order(cards).items() if len(nodes) > 1}
            assert not twice, f"{patient} {hook}: {twice}"
            checked += len(cards)
    context = RenderContext("https://cds.example.org", "s", "h")
    for name, f in SCENARIOS.items():
        cards = render_cards(evaluate_module.evaluate(f, CONFIG), f, context)
        twice = {order: nodes for order, nodes in _offers_by_order(cards).items() if len(nodes) > 1}
        assert not twice, f"scenario {name}: {twice}"
    assert checked > 50


def test_the_infection_card_names_the_urgent_referral_that_stands_in_for_its_consultation() -> None:
    results = results_by_node(SCENARIOS["dfi-severe-urgent"])
    infection = results["infection-management"]
    assert all(a.orderable != "referral-surgeon" for s in infection.suggestions for a in s.actions)
    assert infection.offered_elsewhere == (OfferedElsewhere("Urgent referral to surgeon (stat)", "urgent-surgery"),)
    assert results["surgical-referral"].offered_elsewhere == infection.offered_elsewhere
