"""The seed's four classes of soft tissue calcification, with the evidence for each (spec "Classification").

- infection-related: an infection of the foot (cellulitis, abscess, osteomyelitis, necrotizing, diabetic
  foot infection) or a positive wound/tissue/bone culture. A foot ulcer alone is not an infection.
- metastatic: a metabolic Condition (CKD 3-5/ESRD, hyperparathyroidism, hypervitaminosis D, calcium or
  phosphate disorder), or an abnormal calcium, phosphate or PTH, eGFR below range, or vitamin D above range.
- dystrophic: trauma, calcific tendinitis, myositis ossificans / heterotopic ossification, the seed-004
  causes, and the seed-004 dystrophic morphologies (phlebolith, rice-grain, crescentic). Also a foot
  ulcer or a dry eschar at the calcification's site: seed 000, "Dystrophic calcification - occurs in
  damaged or abnormal tissue with normal calcium metabolism", and an ulcer or necrotic tissue is damaged
  tissue (seed 004: "dystrophic calcification means damaged tissue. Any kind of damage will do"); not when
  the calcification is already infection-related, which names the damage more precisely (seed 000:
  "associated with diabetic foot infections").
- suspected malignancy (a malignant soft tissue neoplasm or osteosarcoma in the record, or the seed-004
  "amorphous, fluffy, confluent" morphology): the calcification is dystrophic only with the suspected
  tumour named first as its cause (seed 004 lists "Neoplasm: primary bone-forming tumor stroma,
  osteosarcoma, tumor necrosis" among the causes of dystrophic calcification), never dystrophic on other
  evidence alone and never idiopathic ("no identifiable cause": a suspected tumour is one).
- idiopathic: none of these, and the metabolic work-up (calcium, phosphate, PTH, renal function) is
  complete and normal.
- undetermined: none of these, and the work-up is not complete (or a result could not be judged).
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.facts.model import (
    CalcificationClass,
    Classification,
    Evidence,
    Infection,
    LabResult,
    LabTest,
    MorphologyHint,
    Problem,
)
from cds_service.facts.text import side_in_text

__all__ = [
    "METABOLIC_WORKUP",
    "SUSPECTED_MALIGNANCY",
    "ESCHAR_AT_SITE",
    "ULCER_AT_SITE",
    "classify",
    "damaged_tissue_at_site",
    "metastatic_lab_evidence",
    "suspicion_of_malignancy",
    "workup_state",
]

# The words that put a suspected tumour and an ulcer among the dystrophic evidence, as the card shows them.
SUSPECTED_MALIGNANCY = "Suspected malignancy (a tumour is a cause of dystrophic calcification)"
ULCER_AT_SITE = "Foot ulcer (damaged tissue at the calcification's site)"
ESCHAR_AT_SITE = "Eschar (necrotic tissue at the calcification's site)"

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


def _named(prefix: str, evidence: Evidence) -> Evidence:
    return Evidence(f"{prefix}: {evidence.label}", evidence.reference, evidence.when)


def suspicion_of_malignancy(malignancy: Sequence[Evidence], morphology: Sequence[MorphologyHint]) -> list[Evidence]:
    """A malignancy in the record, or a malignant morphology on imaging (seed 004), labelled as the
    suspected tumour."""
    found = [*malignancy, *(m.evidence for m in morphology if m.malignant)]
    return [_named(SUSPECTED_MALIGNANCY, e) for e in dict.fromkeys(found)]


# Parts of the foot named in a problem's words, to tell a forefoot ulcer from a heel calcification. (A
# text naming none, or "ankle and foot" as ICD-10-CM displays do, says only "the foot".)
_FOOT_PARTS = {
    "hindfoot": ("heel", "calcane", "hindfoot", "achilles"),
    "midfoot": ("midfoot", "navicular", "cuboid", "cuneiform"),
    "forefoot": ("forefoot", "metatars", "toe", "hallux", "phalan"),
    "ankle": ("ankle", "malleol"),
}


def _foot_parts(*texts: str | None) -> set[str]:
    words = " ".join(t for t in texts if t).lower()
    if "ankle and foot" in words or "ankle/foot" in words:
        return set()
    return {part for part, stems in _FOOT_PARTS.items() if any(stem in words for stem in stems)}


def damaged_tissue_at_site(damage: Evidence | None, what: str, problems: Sequence[Problem]) -> list[Evidence]:
    """A foot ulcer or eschar (`damage`, of the foot), named `what`, when it is at the site of a
    calcification: a calcification of the foot on the same side and the same part of the foot (heel,
    midfoot, forefoot, ankle), where one of them does not state its side or part the record does not put
    them apart. Another foot, or another part of the foot, is not the site."""
    if damage is None:
        return []
    damage_side = side_in_text(damage.label)
    damage_parts = _foot_parts(damage.label)
    for problem in problems:
        if problem.kind not in ("calcification", "imaging-finding") or not problem.active:
            continue
        side = problem.side.value if problem.side is not None else None
        if not (damage_side in (None, "bilateral") or side in (None, "bilateral") or side == damage_side):
            continue
        parts = _foot_parts(problem.label, problem.body_site if problem.body_site != "foot" else None)
        if not damage_parts or not parts or damage_parts & parts:
            return [_named(what, damage)]
    return []


def classify(
    *,
    infections: list[Infection],
    metabolic_conditions: list[Evidence],
    dystrophic_causes: list[Evidence],
    morphology: list[MorphologyHint],
    labs: dict[LabTest, LabResult],
    malignancy: Sequence[Evidence] = (),
    foot_ulcer: Evidence | None = None,
    eschar: Evidence | None = None,
    problems: Sequence[Problem] = (),
) -> Classification:
    """`malignancy`: malignancy Conditions; `foot_ulcer`, `eschar` (a dry eschar of the foot) and `problems`
    (the in-pathway problems, for the calcification's site): damaged tissue."""
    evidence: dict[CalcificationClass, tuple[Evidence, ...]] = {}
    infection = tuple(Evidence(i.label, i.reference, i.when) for i in infections)
    if infection:
        evidence[CalcificationClass.INFECTION] = infection
    metastatic = (*metabolic_conditions, *metastatic_lab_evidence(labs))
    if metastatic:
        evidence[CalcificationClass.METASTATIC] = tuple(metastatic)
    dystrophic = [*dystrophic_causes, *(m.evidence for m in morphology if m.pattern in _DYSTROPHIC_PATTERNS)]
    if not infection:
        dystrophic += damaged_tissue_at_site(foot_ulcer, ULCER_AT_SITE, problems)
        dystrophic += damaged_tissue_at_site(eschar, ESCHAR_AT_SITE, problems)
    tumour = suspicion_of_malignancy(malignancy, morphology)
    if tumour:
        # The suspected tumour first: the class is never read as the benign default while it stands.
        named = {e.reference for e in tumour}
        dystrophic = [*tumour, *(e for e in dystrophic if e.reference is None or e.reference not in named)]
    if dystrophic:
        evidence[CalcificationClass.DYSTROPHIC] = tuple(dict.fromkeys(dystrophic))
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
