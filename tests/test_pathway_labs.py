"""metabolic-workup and metabolic-cause: missing tests, lookbacks, drafts, duplicates, thresholds."""

from __future__ import annotations

from cds_service.facts.model import CalcificationClass, LabTest
from cds_service.pathway.result import DeleteDraft
from tests.support.pathway_facts import (
    CONFIG,
    classified,
    created_orderables,
    draft,
    evidence,
    facts,
    lab,
    node_ids,
    normal_metabolic_labs,
    results_by_node,
)

UNDETERMINED = classified(CalcificationClass.UNDETERMINED)


def test_workup_suggests_each_missing_test_once() -> None:
    result = results_by_node(facts(classification=UNDETERMINED, labs={}))["metabolic-workup"]
    assert result.selection_behavior == "any"
    assert created_orderables(result) == ["lab-calcium", "lab-phosphate", "lab-pth", "lab-creatinine"]


def test_workup_only_the_missing_ones_and_egfr_counts_as_renal_function() -> None:
    labs = {LabTest.CALCIUM: lab(LabTest.CALCIUM, 9.5, "mg/dL"), LabTest.EGFR: lab(LabTest.EGFR, 85, "mL/min/1.73m2")}
    result = results_by_node(facts(classification=UNDETERMINED, labs=labs))["metabolic-workup"]
    assert created_orderables(result) == ["lab-phosphate", "lab-pth"]
    assert any("Calcium 9.5 mg/dL" in e.label for e in result.evidence)


def test_workup_lab_lookback_boundary() -> None:
    days = CONFIG.lab_lookback_days
    at_edge = normal_metabolic_labs(days_ago=days)
    assert "metabolic-workup" not in node_ids(facts(classification=UNDETERMINED, labs=at_edge))
    past = normal_metabolic_labs(days_ago=days + 1)
    assert created_orderables(results_by_node(facts(classification=UNDETERMINED, labs=past))["metabolic-workup"]) == [
        "lab-calcium", "lab-phosphate", "lab-pth", "lab-creatinine"]


def test_workup_silent_for_dystrophic_class_or_when_ordered() -> None:
    assert "metabolic-workup" not in node_ids(facts(labs={}))  # dystrophic, work-up not needed by the rule
    ordered = tuple(draft(f"ServiceRequest/{t.value}", "lab", lab_test=t, selected=False)
                    for t in (LabTest.CALCIUM, LabTest.PHOSPHATE, LabTest.PTH, LabTest.CREATININE))
    assert "metabolic-workup" not in node_ids(facts(classification=UNDETERMINED, labs={}, active_orders=ordered))


def test_order_sign_reoffers_only_tests_not_in_the_drafts() -> None:
    drafts = (draft("ServiceRequest/ca", "lab", lab_test=LabTest.CALCIUM),
              draft("ServiceRequest/po4", "lab", lab_test=LabTest.PHOSPHATE))
    result = results_by_node(facts(hook="order-sign", classification=UNDETERMINED, labs={}, draft_orders=drafts))
    assert created_orderables(result["metabolic-workup"]) == ["lab-pth", "lab-creatinine"]
    # order-select does not re-offer
    assert "metabolic-workup" not in node_ids(facts(hook="order-select", classification=UNDETERMINED, labs={},
                                                    draft_orders=drafts))


def test_order_sign_silent_when_drafts_complete_the_workup() -> None:
    drafts = tuple(draft(f"ServiceRequest/{t.value}", "lab", lab_test=t)
                   for t in (LabTest.CALCIUM, LabTest.PHOSPHATE, LabTest.PTH, LabTest.EGFR))
    assert node_ids(facts(hook="order-sign", classification=UNDETERMINED, labs={}, draft_orders=drafts)) == set()


def test_duplicate_draft_lab_within_30_days() -> None:
    window = CONFIG.duplicate_lab_window_days
    labs = {LabTest.CALCIUM: lab(LabTest.CALCIUM, 11.2, "mg/dL", days_ago=window, abnormal=True, direction="high")}
    ca = draft("ServiceRequest/ca", "lab", lab_test=LabTest.CALCIUM, label="Calcium, serum")
    result = results_by_node(facts(hook="order-select", labs=labs, draft_orders=(ca,)))["metabolic-workup"]
    (remove,) = result.suggestions
    assert isinstance(remove.actions[0], DeleteDraft) and remove.actions[0].resource_id == "ServiceRequest/ca"
    assert result.variables["duplicates"][0]["last"].startswith("Calcium 11.2 mg/dL")
    assert "clinically-indicated-repeat" in result.override_reasons
    older = {LabTest.CALCIUM: lab(LabTest.CALCIUM, 11.2, "mg/dL", days_ago=window + 1)}
    assert "metabolic-workup" not in node_ids(facts(hook="order-select", labs=older, draft_orders=(ca,)))


def test_order_sign_merges_duplicates_and_missing_into_one_card() -> None:
    labs = {LabTest.CALCIUM: lab(LabTest.CALCIUM, 9.1, "mg/dL", days_ago=3)}
    ca = draft("ServiceRequest/ca", "lab", lab_test=LabTest.CALCIUM)
    results = results_by_node(facts(hook="order-sign", classification=UNDETERMINED, labs=labs, draft_orders=(ca,)))
    keys = [s.key for s in results["metabolic-workup"].suggestions]
    assert keys == ["order-lab-phosphate", "order-lab-pth", "order-lab-creatinine", "remove-ServiceRequest/ca"]


def test_metabolic_cause_thresholds_and_referrals() -> None:
    high_pth = {LabTest.PTH: lab(LabTest.PTH, 120, "pg/mL", abnormal=True, direction="high")}
    result = results_by_node(facts(labs=high_pth))["metabolic-cause"]
    assert result.indicator == "warning" and created_orderables(result) == ["referral-endocrinology"]
    low_egfr = {LabTest.EGFR: lab(LabTest.EGFR, 59.9, "mL/min/1.73m2")}
    assert created_orderables(results_by_node(facts(labs=low_egfr))["metabolic-cause"]) == ["referral-nephrology"]
    assert "metabolic-cause" not in node_ids(facts(labs={LabTest.EGFR: lab(LabTest.EGFR, 60, "mL/min/1.73m2")}))
    low_vit_d = {LabTest.VITAMIN_D: lab(LabTest.VITAMIN_D, 8, "ng/mL", abnormal=True, direction="low")}
    assert "metabolic-cause" not in node_ids(facts(labs=low_vit_d))


def test_metabolic_cause_from_condition_and_referral_already_ordered() -> None:
    ckd = (evidence("Chronic kidney disease stage 4", "Condition/ckd"),)
    result = results_by_node(facts(metabolic_conditions=ckd, metabolic_kinds=frozenset({"renal"})))["metabolic-cause"]
    assert created_orderables(result) == ["referral-nephrology"]
    assert result.suggestions[0].actions[0].reason_references == ("Condition/ckd",)
    referred = (draft("ServiceRequest/neph", "referral", referral="nephrology", selected=False),)
    quiet = results_by_node(facts(metabolic_conditions=ckd, metabolic_kinds=frozenset({"renal"}), active_orders=referred))["metabolic-cause"]
    assert quiet.suggestions == () and quiet.selection_behavior is None
