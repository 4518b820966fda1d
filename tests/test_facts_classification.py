"""The seed's classes (spec "Classification"): evidence per class, several classes, idiopathic only
when the metabolic work-up is complete and normal."""

from __future__ import annotations

from cds_service.facts.model import CalcificationClass as C
from tests.support.facts_builders import (
    ICD10CM,
    LOINC,
    SNOMED,
    condition,
    days_ago,
    diagnostic_report,
    facts_for,
    observation,
)

ENTRY = condition("entry", (ICD10CM, "M61.471"))  # "other calcification of muscle": no class by itself


def workup(
    calcium: float = 9.5, *, creatinine: tuple[float, str] | None = (0.9, "mg/dL"), egfr: float | None = None
) -> list[dict]:
    resources = [
        observation("ca", (LOINC, "17861-6"), value=(calcium, "mg/dL"), effective=days_ago(10)),
        observation("po4", (LOINC, "2777-1"), value=(3.5, "mg/dL"), effective=days_ago(10)),
        observation("pth", (LOINC, "2731-8"), value=(40, "pg/mL"), effective=days_ago(10)),
    ]
    if creatinine:
        resources.append(observation("cr", (LOINC, "2160-0"), value=creatinine, effective=days_ago(10)))
    if egfr is not None:
        resources.append(observation("gfr", (LOINC, "98979-8"), value=(egfr, "mL/min/1.73m2"), effective=days_ago(10)))
    return resources


def classes(*resources: dict) -> frozenset[C]:
    classification = facts_for(*resources).classification
    assert classification is not None
    return classification.classes


def test_no_cause_and_no_workup_is_undetermined() -> None:
    facts = facts_for(ENTRY)
    assert facts.classification.classes == {C.UNDETERMINED}
    assert facts.classification.workup_complete is False


def test_complete_normal_workup_is_idiopathic() -> None:
    facts = facts_for(ENTRY, *workup())
    assert facts.classification.classes == {C.IDIOPATHIC}
    assert facts.classification.workup_complete
    assert len(facts.classification.evidence[C.IDIOPATHIC]) == 4


def test_renal_function_by_egfr_alone_completes_the_workup() -> None:
    assert classes(ENTRY, *workup(creatinine=None, egfr=75)) == {C.IDIOPATHIC}


def test_incomplete_workup_is_undetermined_even_if_normal() -> None:
    assert classes(ENTRY, *workup()[:3]) == {C.UNDETERMINED}  # no renal function


def test_abnormal_calcium_is_metastatic() -> None:
    facts = facts_for(ENTRY, *workup(calcium=11.4))
    assert facts.classification.classes == {C.METASTATIC}
    (evidence,) = facts.classification.evidence[C.METASTATIC]
    assert evidence.reference == "Observation/ca"
    assert "high" in evidence.label


def test_low_egfr_and_ckd_condition_are_metastatic() -> None:
    assert classes(ENTRY, *workup(creatinine=None, egfr=48)) == {C.METASTATIC}
    assert classes(ENTRY, condition("ckd", (SNOMED, "433146000", "Chronic kidney disease stage 5"))) == {C.METASTATIC}


def test_high_vitamin_d_is_metastatic_low_is_not() -> None:
    high = observation("d", (LOINC, "62292-8"), value=(130, "ng/mL"))
    low = observation("d", (LOINC, "62292-8"), value=(12, "ng/mL"), interpretation="L")
    assert classes(ENTRY, high) == {C.METASTATIC}
    assert classes(ENTRY, low) == {C.UNDETERMINED}


def test_infection_and_dystrophic_together() -> None:
    facts = facts_for(
        condition("ct", (ICD10CM, "M65.271")),
        condition("cel", (SNOMED, "128276007", "Cellulitis of foot")),
        *workup(),
    )
    assert facts.classification.classes == {C.INFECTION, C.DYSTROPHIC}
    assert [e.reference for e in facts.classification.evidence[C.INFECTION]] == ["Condition/cel"]


def test_foot_ulcer_alone_is_not_infection() -> None:
    assert C.INFECTION not in classes(ENTRY, condition("u", (SNOMED, "371087003", "Diabetic foot ulcer")))


def test_positive_culture_is_infection() -> None:
    culture = observation("cx", (LOINC, "43408-4"), value_string="Pseudomonas aeruginosa")
    assert classes(ENTRY, culture) == {C.INFECTION}


def test_dystrophic_morphology_is_dystrophic_evidence() -> None:
    report = diagnostic_report(
        "d1", (LOINC, "36305-1"), conclusion="Round dense phleboliths in the soft tissue of the foot."
    )
    assert classes(report, *workup()) == {C.DYSTROPHIC}


def test_unjudged_renal_result_keeps_it_undetermined() -> None:
    # creatinine in a unit the service does not know, with no flag or range: normality is unknown
    assert classes(ENTRY, *workup(creatinine=(0.9, "mg%"))) == {C.UNDETERMINED}


def test_metabolic_conditions_carry_their_kind() -> None:
    ckd = condition("ckd", (SNOMED, "433146000", "Chronic kidney disease stage 5"))
    hpt = condition("hpt", (SNOMED, "36348003", "Primary hyperparathyroidism"))
    hvd = condition("hvd", (ICD10CM, "E67.3", "Hypervitaminosis D"))
    assert facts_for(ENTRY, ckd).metabolic_kinds == {"renal"}
    assert facts_for(ENTRY, hpt, hvd).metabolic_kinds == {"parathyroid", "vitamin-d"}
    assert facts_for(ENTRY).metabolic_kinds == frozenset()


def test_a_resolved_foot_injury_still_makes_the_calcification_dystrophic() -> None:
    injury = condition("inj", (SNOMED, "43422002", "Crushing injury of foot"), clinical="resolved")
    refuted = condition("inj2", (SNOMED, "43422002", "Crushing injury of foot"), verification="refuted")
    assert classes(ENTRY, injury) == {C.DYSTROPHIC}
    assert classes(ENTRY, refuted) == {C.UNDETERMINED}
