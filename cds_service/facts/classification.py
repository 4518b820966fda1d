"""The seed's four classes of soft tissue calcification, with the evidence for each (spec "Classification").

- infection-related: an infection of the foot (cellulitis, abscess, osteomyelitis, necrotizing, diabetic
  foot infection) or a positive wound/tissue/bone culture. A foot ulcer alone is not an infection.
- metastatic: a metabolic Condition (CKD 3-5/ESRD, hyperparathyroidism, hypervitaminosis D, calcium or
  phosphate disorder), or an abnormal calcium, phosphate or PTH, eGFR below range, or vitamin D above range.
- dystrophic: trauma, calcific tendinitis, myositis ossificans / heterotopic ossification, the seed-004
  causes, and the seed-004 dystrophic morphologies (phlebolith, rice-grain, crescentic).
- idiopathic: none of these, and the metabolic work-up (calcium, phosphate, PTH, renal function) is
  complete and normal.
- undetermined: none of these, and the work-up is not complete (or a result could not be judged).
"""

from __future__ import annotations

from cds_service.facts.model import (
    CalcificationClass,
    Classification,
    Evidence,
    Infection,
    LabResult,
    LabTest,
    MorphologyHint,
)

__all__ = ["METABOLIC_WORKUP", "classify", "metastatic_lab_evidence", "workup_state"]

# The seed: "Laboratory evaluation should include calcium, phosphorus, parathyroid hormone, and renal
# function tests" -- renal function is either creatinine or eGFR.
METABOLIC_WORKUP: tuple[tuple[LabTest, ...], ...] = (
    (LabTest.CALCIUM,),
    (LabTest.PHOSPHATE,),
    (LabTest.PTH,),
    (LabTest.CREATININE, LabTest.EGFR),
)
_DYSTROPHIC_PATTERNS = frozenset({"phlebolith", "cysticercosis", "dracunculiasis"})


def metastatic_lab_evidence(labs: dict[LabTest, LabResult]) -> list[Evidence]:
    evidence = []
    for test in (LabTest.CALCIUM, LabTest.PHOSPHATE, LabTest.PTH):
        result = labs.get(test)
        if result is not None and result.abnormal:
            evidence.append(Evidence(result.describe(), result.reference, result.when))
    egfr = labs.get(LabTest.EGFR)
    if egfr is not None and egfr.abnormal and egfr.direction != "high":
        evidence.append(Evidence(egfr.describe(), egfr.reference, egfr.when))
    vitamin_d = labs.get(LabTest.VITAMIN_D)
    if vitamin_d is not None and vitamin_d.abnormal and vitamin_d.direction == "high":
        evidence.append(Evidence(vitamin_d.describe(), vitamin_d.reference, vitamin_d.when))
    return evidence


def workup_state(labs: dict[LabTest, LabResult]) -> tuple[bool, bool]:
    """(complete, normal): every work-up test has a result; and every one is judged normal."""
    complete = normal = True
    for tests in METABOLIC_WORKUP:
        results = [labs[test] for test in tests if test in labs]
        if not results:
            complete = normal = False
            continue
        if any(result.abnormal for result in results) or not any(result.abnormal is False for result in results):
            normal = False
    return complete, normal


def classify(
    *,
    infections: list[Infection],
    metabolic_conditions: list[Evidence],
    dystrophic_causes: list[Evidence],
    morphology: list[MorphologyHint],
    labs: dict[LabTest, LabResult],
) -> Classification:
    evidence: dict[CalcificationClass, tuple[Evidence, ...]] = {}
    infection = tuple(Evidence(i.label, i.reference, i.when) for i in infections)
    if infection:
        evidence[CalcificationClass.INFECTION] = infection
    metastatic = (*metabolic_conditions, *metastatic_lab_evidence(labs))
    if metastatic:
        evidence[CalcificationClass.METASTATIC] = tuple(metastatic)
    dystrophic = (*dystrophic_causes, *(m.evidence for m in morphology if m.pattern in _DYSTROPHIC_PATTERNS))
    if dystrophic:
        evidence[CalcificationClass.DYSTROPHIC] = tuple(dystrophic)
    complete, normal = workup_state(labs)
    if not evidence:
        if complete and normal:
            workup = tuple(
                Evidence(labs[t].describe(), labs[t].reference, labs[t].when)
                for tests in METABOLIC_WORKUP
                for t in tests
                if t in labs
            )
            evidence[CalcificationClass.IDIOPATHIC] = workup
        else:
            evidence[CalcificationClass.UNDETERMINED] = ()
    return Classification(classes=frozenset(evidence), evidence=evidence, workup_complete=complete)
