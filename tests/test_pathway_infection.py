"""Diabetic foot and infection nodes: osteomyelitis-rule-out, eschar-no-debridement, infection-management,
urgent-surgery, dfi-reassessment."""

from __future__ import annotations

from datetime import timedelta

from cds_service.facts.model import CalcificationClass, LabTest
from tests.support.pathway_facts import (
    CONFIG,
    TODAY,
    classified,
    created_orderables,
    draft,
    evidence,
    facts,
    infection,
    lab,
    node_ids,
    results_by_node,
    xr,
)

DIABETES = evidence("Type 2 diabetes mellitus", "Condition/dm", 400)
ULCER = evidence("Diabetic foot ulcer", "Condition/ulcer", 15)
INFECTED = classified(CalcificationClass.INFECTION)


def test_osteomyelitis_rule_out_suggests_initial_studies() -> None:
    result = results_by_node(facts(diabetes=DIABETES, foot_ulcer=ULCER))["osteomyelitis-rule-out"]
    assert result.indicator == "warning"
    assert created_orderables(result) == ["probe-to-bone-test", "lab-esr", "lab-crp"]
    assert result.suggestions[0].actions[0].reason_references == ("Condition/dm", "Condition/ulcer")


def test_osteomyelitis_rule_out_30_day_boundary_and_then_mri() -> None:
    days = CONFIG.infection_lab_lookback_days
    labs = {LabTest.ESR: lab(LabTest.ESR, 20, "mm/h", days_ago=days), LabTest.CRP: lab(LabTest.CRP, 4, "mg/L", days_ago=days + 1)}
    result = results_by_node(facts(diabetes=DIABETES, foot_ulcer=ULCER, labs=labs))["osteomyelitis-rule-out"]
    assert created_orderables(result) == ["probe-to-bone-test", "lab-crp"]
    done = {LabTest.ESR: lab(LabTest.ESR, 20, "mm/h"), LabTest.CRP: lab(LabTest.CRP, 4, "mg/L")}
    ptb = evidence("Probe-to-bone test negative", "Procedure/ptb", 3)
    mri_step = results_by_node(facts(diabetes=DIABETES, foot_ulcer=ULCER, labs=done, probe_to_bone_done=ptb))
    assert created_orderables(mri_step["osteomyelitis-rule-out"]) == ["mr-foot-right-wo"]
    with_mri = facts(diabetes=DIABETES, foot_ulcer=ULCER, labs=done, probe_to_bone_done=ptb, imaging=(xr(3),))
    assert "osteomyelitis-rule-out" in node_ids(with_mri)  # an XR is not an MRI
    from cds_service.facts.model import Modality
    all_done = facts(diabetes=DIABETES, foot_ulcer=ULCER, labs=done, probe_to_bone_done=ptb,
                     imaging=(xr(3, modality=Modality.MR),))
    assert "osteomyelitis-rule-out" not in node_ids(all_done)


def test_osteomyelitis_rule_out_silent_without_diabetes_or_with_diagnosis() -> None:
    assert "osteomyelitis-rule-out" not in node_ids(facts(foot_ulcer=ULCER))
    assert "osteomyelitis-rule-out" not in node_ids(facts(diabetes=DIABETES))
    om = evidence("Osteomyelitis of foot", "Condition/om")
    assert "osteomyelitis-rule-out" not in node_ids(facts(diabetes=DIABETES, foot_ulcer=ULCER, osteomyelitis=om))


def test_osteomyelitis_rule_out_at_order_sign_skips_drafted_tests() -> None:
    drafts = (draft("ServiceRequest/esr", "lab", lab_test=LabTest.ESR),
              draft("ServiceRequest/crp", "lab", lab_test=LabTest.CRP))
    result = results_by_node(facts(hook="order-sign", diabetes=DIABETES, foot_ulcer=ULCER, draft_orders=drafts))
    assert created_orderables(result["osteomyelitis-rule-out"]) == ["probe-to-bone-test"]
    ptb = draft("ServiceRequest/ptb", "procedure", procedure="probe-to-bone")
    assert node_ids(facts(hook="order-sign", diabetes=DIABETES, foot_ulcer=ULCER, draft_orders=(*drafts, ptb))) == set()
    assert "osteomyelitis-rule-out" not in node_ids(facts(hook="order-select", diabetes=DIABETES, foot_ulcer=ULCER))


def test_eschar_needs_ischemia_and_warns_on_drafted_debridement() -> None:
    eschar = evidence("Necrotic eschar of the heel", "Condition/eschar")
    pad = evidence("Peripheral arterial disease", "Condition/pad", 300)
    result = results_by_node(facts(eschar=eschar, ischemia=pad))["eschar-no-debridement"]
    assert result.suggestions == () and result.override_reasons == ()
    assert "eschar-no-debridement" not in node_ids(facts(eschar=eschar))
    debride = draft("ServiceRequest/deb", "procedure", procedure="debridement", body_site=None)
    order = results_by_node(facts(hook="order-select", eschar=eschar, ischemia=pad, draft_orders=(debride,)))
    assert order["eschar-no-debridement"].override_reasons == ("debridement-necessary", "other")
    assert "eschar-no-debridement" not in node_ids(facts(hook="order-select", eschar=eschar, ischemia=pad))
    hand = draft("ServiceRequest/deb", "procedure", procedure="debridement", body_site="hand")
    assert "eschar-no-debridement" not in node_ids(facts(hook="order-sign", eschar=eschar, ischemia=pad,
                                                         draft_orders=(hand,)))


def test_infection_management_culture_and_consultation_by_severity() -> None:
    moderate = results_by_node(facts(classification=INFECTED, infections=(infection("cellulitis", severity="moderate"),)))
    result = moderate["infection-management"]
    assert created_orderables(result) == ["lab-wound-culture", "referral-surgeon"]
    assert [s.is_recommended for s in result.suggestions] == [True, False]
    severe = results_by_node(facts(classification=INFECTED, infections=(infection("abscess", severity="severe"),)))
    assert severe["infection-management"].suggestions[-1].is_recommended is True
    cultured = {LabTest.CULTURE: lab(LabTest.CULTURE, None, None, days_ago=5, positive=True)}
    mild = results_by_node(facts(classification=INFECTED, infections=(infection("cellulitis", severity="mild"),),
                                 labs=cultured))
    assert mild["infection-management"].suggestions == ()
    assert "conservative-care" not in mild


def test_urgent_surgery_is_critical_stat_and_replaces_the_consultation() -> None:
    nec = evidence("Necrotizing fasciitis", "Condition/nf", 1)
    results = results_by_node(facts(classification=INFECTED, urgent_surgical=(nec,),
                                    infections=(infection("necrotizing", severity="severe"),)))
    urgent = results["urgent-surgery"]
    assert urgent.indicator == "critical"
    (action,) = urgent.suggestions[0].actions
    assert action.priority == "stat" and action.orderable == "referral-surgeon"
    assert "referral-surgeon" not in created_orderables(results["infection-management"])
    assert list(results)[0] == "urgent-surgery"  # critical first


def test_dfi_reassessment_window_and_kinds() -> None:
    result = results_by_node(facts(diabetes=DIABETES, infections=(infection("cellulitis"),)))["dfi-reassessment"]
    (order,) = result.suggestions[0].actions
    assert order.orderable == "follow-up-visit"
    assert order.occurrence_start == TODAY + timedelta(days=CONFIG.dfi_reassess_min_days)
    assert order.occurrence_end == TODAY + timedelta(days=CONFIG.dfi_reassess_max_days)
    assert "dfi-reassessment" not in node_ids(facts(infections=(infection("cellulitis"),)))  # no diabetes
    assert "dfi-reassessment" in node_ids(facts(infections=(infection("diabetic-foot-infection"),)))
    dfi = evidence("Cellulitis in diabetic foot", "Condition/dfi", 3)
    assert results_by_node(facts(diabetic_foot_infection=dfi))["dfi-reassessment"].evidence[0] == dfi
    assert "dfi-reassessment" not in node_ids(facts(diabetes=DIABETES, infections=(infection("positive-culture"),)))


def test_dfi_reassessment_does_not_suggest_a_visit_already_ordered() -> None:
    visit = (draft("ServiceRequest/fu", "follow-up", selected=False),)
    result = results_by_node(facts(diabetes=DIABETES, infections=(infection("cellulitis"),), active_orders=visit))
    assert result["dfi-reassessment"].suggestions == ()
