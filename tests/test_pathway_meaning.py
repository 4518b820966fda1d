"""The pathway on the meaning cases of issue 7, from FHIR JSON through the facts to the nodes (and, for the
lower-extremity draft, to the card's words)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from cds_service.facts.extract import build_facts
from cds_service.facts.parse import to_clinical_data
from cds_service.guideline.config import load_pathway_config
from cds_service.pathway.evaluate import evaluate
from tests.support.e2e_run import run_request
from tests.support.facts_builders import (
    ICD10CM,
    PATIENT_ID,
    SNOMED,
    TODAY,
    condition,
    facts_for,
    raw_record,
    service_request,
)

CPT = "http://www.ama-assn.org/go/cpt"
ENTRY = condition("entry", (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"), onset="2026-11-01")
ESCHAR = condition("e", (SNOMED, "421306004", "Necrotic eschar"), body_site_text="Right heel")
PAD = condition("pad", (SNOMED, "840580004", "Peripheral arterial disease"))
JSON = dict[str, Any]


def nodes(*resources: JSON, hook: str = "patient-view", drafts: tuple[JSON, ...] = (), config=None) -> dict[str, Any]:
    config = config or load_pathway_config()
    facts = facts_for(*resources, hook=hook, drafts=drafts, config=config)
    return {r.node_id: r for r in evaluate(facts, config)}


def test_avoid_debridement_only_for_a_dry_uninfected_eschar() -> None:
    assert "eschar-no-debridement" in nodes(ENTRY, ESCHAR, PAD)
    cellulitis = condition("c", (SNOMED, "128276007", "Cellulitis of foot"))
    assert "eschar-no-debridement" not in nodes(ENTRY, ESCHAR, PAD, cellulitis)
    wet = condition("g", (SNOMED, "195303005", "Gangrene of foot"), text="Wet gangrene of the right heel")
    assert "eschar-no-debridement" not in nodes(ENTRY, wet, PAD)
    assert "eschar-no-debridement" not in nodes(ENTRY, ESCHAR, PAD, wet)


def test_never_operate_urgently_and_avoid_debridement_in_one_response() -> None:
    necrotizing = condition("n", (SNOMED, "52486002", "Necrotizing fasciitis"), body_site_text="Right foot")
    found = nodes(ENTRY, ESCHAR, PAD, necrotizing)
    assert "urgent-surgery" in found and "eschar-no-debridement" not in found
    compartment = condition("cs", (ICD10CM, "M79.A21"))
    found = nodes(ENTRY, ESCHAR, PAD, compartment)
    assert "urgent-surgery" in found and "eschar-no-debridement" not in found


def test_a_debridement_elsewhere_is_not_a_foot_debridement() -> None:
    debride = (SNOMED, "312775003", "Debridement of ulcer")
    unsited = service_request("d", debride, status="draft")
    hand = {**service_request("d", debride, status="draft"), "bodySite": [{"text": "Left hand"}]}
    assert "eschar-no-debridement" in nodes(ENTRY, ESCHAR, PAD, hook="order-select", drafts=(unsited,))
    assert "eschar-no-debridement" not in nodes(ENTRY, ESCHAR, PAD, hook="order-select", drafts=(hand,))


def test_a_deceased_patient_gets_no_order_suggestion() -> None:
    record = raw_record(ENTRY)
    record.patient = {"resourceType": "Patient", "id": PATIENT_ID, "deceasedBoolean": True}
    facts = build_facts(to_clinical_data(record, PATIENT_ID), hook="patient-view", today=TODAY,
                        config=load_pathway_config())
    assert evaluate(facts, load_pathway_config()) == []  # local default: no card at all
    informative = evaluate(facts, replace(load_pathway_config(), deceased_patient="no-suggestions"))
    assert informative and all(not r.suggestions and r.selection_behavior is None for r in informative)


def _mri_lower_extremity(**extra: Any) -> JSON:
    return service_request("mri", (CPT, "73718"), status="draft", **extra)


def test_lower_extremity_imaging_without_a_site_is_possibly_of_the_foot() -> None:
    found = nodes(ENTRY, hook="order-sign", drafts=(_mri_lower_extremity(),))
    result = found["initial-radiograph"]
    assert result.rule == "draft-advanced-imaging"
    assert result.variables["possibly_foot"] == ["Magnetic resonance imaging, lower extremity other than joint; without contrast material(s)"]
    # with a site elsewhere it is not the foot; without a patient in the pathway it is nothing
    assert "initial-radiograph" not in nodes(
        ENTRY, hook="order-sign", drafts=({**_mri_lower_extremity(), "bodySite": [{"text": "Left thigh"}]},)
    )
    assert nodes(hook="order-sign", drafts=(_mri_lower_extremity(),)) == {}


def test_an_unsited_draft_enters_the_pathway_only_when_its_reason_names_the_foot() -> None:
    foot_reason = {"coding": [{"system": ICD10CM, "code": "M65.271"}]}
    unsited_reason = {"coding": [{"system": SNOMED, "code": "18115005"}]}
    assert "initial-radiograph" in nodes(hook="order-sign", drafts=(_mri_lower_extremity(reason_codes=[foot_reason]),))
    assert nodes(hook="order-sign", drafts=(_mri_lower_extremity(reason_codes=[unsited_reason]),)) == {}


def test_the_card_says_possibly_of_the_foot() -> None:
    today = date(2026, 11, 21)
    entry = {**ENTRY, "subject": {"reference": "Patient/pt-le"}}
    draft = {**_mri_lower_extremity(), "subject": {"reference": "Patient/pt-le"}}
    request = {
        "hook": "order-sign",
        "hookInstance": "0c6b3f4e-2a1d-4e5f-9a8b-7c6d5e4f3a2b",
        "context": {"userId": "Practitioner/1", "patientId": "pt-le",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "pt-le"},
                     "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": entry}]}},
    }
    from cds_service.services import prefetch_keys

    request["prefetch"].update({k.key: None for k in prefetch_keys() if k.key not in request["prefetch"]})
    (card,) = [c for c in run_request(request, today)["cards"]
               if c["source"]["topic"]["code"] == "initial-radiograph"]
    assert "possibly of the foot" in card["detail"]


def test_active_orders_under_the_ehr_s_own_codes_are_recognised_by_their_words() -> None:
    """No duplicate radiograph or PTH is suggested for what is already ordered under a local code."""
    local = "http://hospital.example.org/fhir/CodeSystem/orders"
    xr = service_request("xr", (local, "RAD-FT-R3", "XR FOOT RT 3V"))
    pth = service_request("pth", (local, "LAB-PTH", "PTH, INTACT"))
    mass = condition("m", (SNOMED, "442098006", "Mass of foot"), verification="provisional")
    assert "initial-radiograph" in nodes(mass)
    assert "initial-radiograph" not in nodes(mass, xr)
    workup = nodes(mass, xr, pth)["metabolic-workup"]
    suggested = {a.orderable for s in workup.suggestions for a in s.actions}
    assert "lab-pth" not in suggested and "lab-calcium" in suggested
