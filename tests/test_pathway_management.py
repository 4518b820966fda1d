"""surgical-referral, malignancy-referral, conservative-care (and its exclusions), repeat-radiograph."""

from __future__ import annotations

from datetime import timedelta

from cds_service.facts.model import CalcificationClass, Evidence, Modality, MorphologyHint
from cds_service.pathway.follow_up import repeat_window
from cds_service.pathway.result import DeleteDraft, UpdateDraftOccurrence
from tests.support.pathway_facts import (
    CONFIG,
    TODAY,
    ago,
    calcification,
    classified,
    created_orderables,
    draft,
    evidence,
    facts,
    infection,
    node_ids,
    results_by_node,
    xr,
)

PAIN = evidence("Pain in right foot", "Condition/pain", 2)
WEEKS = CONFIG.conservative_care_min_weeks


def test_surgical_referral_when_not_responding_after_six_weeks() -> None:
    old = calcification(onset_days=WEEKS * 7)
    result = results_by_node(facts(problems=(old,), foot_pain=PAIN))["surgical-referral"]
    assert result.variables["scenarios"] == ["not-responding"]
    assert result.selection_behavior == "at-most-one"
    assert created_orderables(result) == ["referral-orthopedics", "referral-podiatry"]
    assert "conservative-care" not in node_ids(facts(problems=(old,), foot_pain=PAIN))
    young = calcification(onset_days=WEEKS * 7 - 1)
    assert "surgical-referral" not in node_ids(facts(problems=(young,), foot_pain=PAIN))
    assert "surgical-referral" not in node_ids(facts(problems=(old,)))  # no pain: not symptomatic


def test_surgical_referral_other_scenarios_and_existing_referral() -> None:
    om = evidence("Osteomyelitis of foot", "Condition/om")
    spreading = facts(osteomyelitis=om, infections=(infection("cellulitis"),),
                      classification=classified(CalcificationClass.INFECTION))
    assert results_by_node(spreading)["surgical-referral"].variables["scenarios"] == ["osteomyelitis-spreading"]
    assert "surgical-referral" not in node_ids(facts(osteomyelitis=om))
    destruction = facts(bone_destruction=evidence("Progressive bone destruction", "DiagnosticReport/xr", 4))
    assert "surgical-referral" in node_ids(destruction)
    podiatry = (draft("ServiceRequest/pod", "referral", referral="podiatry", selected=False),)
    quiet = results_by_node(facts(bone_destruction=destruction.bone_destruction, active_orders=podiatry))
    assert quiet["surgical-referral"].suggestions == ()


def test_malignancy_referral_from_condition_or_fluffy_morphology() -> None:
    sarcoma = (evidence("Malignant neoplasm of soft tissue of right lower limb", "Condition/sarc"),)
    result = results_by_node(facts(malignancy=sarcoma))["malignancy-referral"]
    assert result.indicator == "critical"
    assert created_orderables(result) == ["referral-orthopedics", "mr-foot-right-wo"]
    assert {a.priority for s in result.suggestions for a in s.actions} == {"urgent"}
    fluffy = MorphologyHint(pattern="osteosarcoma", evidence=Evidence("amorphous fluffy confluent", "DiagnosticReport/1"),
                            malignant=True)
    assert "malignancy-referral" in node_ids(facts(morphology=(fluffy,)))
    phlebolith = MorphologyHint(pattern="phlebolith", evidence=Evidence("phlebolith", "DiagnosticReport/1"))
    ids = node_ids(facts(morphology=(phlebolith,)))
    assert "malignancy-referral" not in ids and "conservative-care" in ids
    with_mri = results_by_node(facts(malignancy=sarcoma, imaging=(xr(10, modality=Modality.MR),)))
    assert created_orderables(with_mri["malignancy-referral"]) == ["referral-orthopedics"]


def test_conservative_care_only_when_no_other_management_node_fires() -> None:
    result = results_by_node(facts())["conservative-care"]
    assert created_orderables(result) == ["referral-physiotherapy"]
    physio = (draft("ServiceRequest/pt", "referral", referral="physiotherapy", selected=False),)
    assert results_by_node(facts(active_orders=physio))["conservative-care"].suggestions == ()
    infected = facts(classification=classified(CalcificationClass.INFECTION), infections=(infection("cellulitis"),))
    assert "conservative-care" not in node_ids(infected)
    urgent = facts(urgent_surgical=(evidence("Compartment syndrome", "Condition/cs", 1),))
    assert "conservative-care" not in node_ids(urgent)


def test_repeat_radiograph_window_from_the_last_film() -> None:
    result = results_by_node(facts(imaging=(xr(10),)))["repeat-radiograph"]
    (order,) = result.suggestions[0].actions
    assert order.occurrence_start == ago(10) + timedelta(days=CONFIG.repeat_xr_min_days)
    assert order.occurrence_end == ago(10) + timedelta(days=CONFIG.repeat_xr_max_days)
    assert order.orderable == "xr-foot-right-3-views"


def test_repeat_window_starts_today_when_day_14_is_past() -> None:
    limits = CONFIG
    assert repeat_window(ago(20), TODAY, limits) == (TODAY, ago(20) + timedelta(days=28))
    assert repeat_window(ago(60), TODAY, limits) == (TODAY, TODAY + timedelta(days=14))


def test_repeat_radiograph_edges() -> None:
    age = CONFIG.repeat_xr_max_age_days
    assert "repeat-radiograph" in node_ids(facts(imaging=(xr(age),), problems=(calcification(onset_days=200),)))
    assert "repeat-radiograph" not in node_ids(facts(imaging=(xr(age + 1),)))
    # a second radiograph in the episode: the repeat is done
    assert "repeat-radiograph" not in node_ids(facts(imaging=(xr(10), xr(5)), problems=(calcification(onset_days=30),)))
    # a radiograph before the problem began does not count as a repeat of this episode
    assert "repeat-radiograph" in node_ids(facts(imaging=(xr(400), xr(10)), problems=(calcification(onset_days=30),)))
    # the film that found it predates the problem's recorded date: still the first of the episode
    assert "repeat-radiograph" in node_ids(facts(imaging=(xr(10),), problems=(calcification(onset_days=5),)))
    assert "repeat-radiograph" not in node_ids(facts(imaging=(xr(10), xr(None, status="ordered"))))
    inactive = calcification(active=False)
    assert "repeat-radiograph" not in node_ids(facts(imaging=(xr(10),), problems=(inactive,)))


def test_repeat_radiograph_order_hook_moves_an_early_draft() -> None:
    resource = {"resourceType": "ServiceRequest", "id": "xr1", "status": "draft", "intent": "order",
                "subject": {"reference": "Patient/pat-1"}, "code": {"text": "XR foot"},
                "occurrenceDateTime": TODAY.isoformat()}
    early = draft("ServiceRequest/xr1", "imaging", modality=Modality.XR, occurrence=TODAY, resource=resource)
    result = results_by_node(facts(hook="order-select", imaging=(xr(8),), draft_orders=(early,)))["repeat-radiograph"]
    (update,) = result.suggestions[0].actions
    assert isinstance(update, UpdateDraftOccurrence)
    assert (update.start, update.end) == (ago(8) + timedelta(days=14), ago(8) + timedelta(days=28))
    no_resource = draft("ServiceRequest/xr1", "imaging", modality=Modality.XR, occurrence=None)
    replaced = results_by_node(facts(hook="order-sign", imaging=(xr(8),), draft_orders=(no_resource,)))
    delete, create = replaced["repeat-radiograph"].suggestions[0].actions
    assert isinstance(delete, DeleteDraft) and create.occurrence_start == ago(8) + timedelta(days=14)
    on_time = draft("ServiceRequest/xr1", "imaging", modality=Modality.XR, occurrence=ago(8) + timedelta(days=14))
    assert "repeat-radiograph" not in node_ids(facts(hook="order-select", imaging=(xr(8),), draft_orders=(on_time,)))
