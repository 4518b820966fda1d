"""The `differential-diagnosis` node: the seed-000 classes with their evidence, and the seed-004 table of
the six causes of soft tissue calcification, ordered by prevalence, marked where the patient's data
support a cause."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.facts.model import CalcificationClass, Evidence, Facts
from cds_service.pathway import lookups
from cds_service.pathway.context import NodeContext, problem_evidence
from cds_service.pathway.questions import suspected_malignancy
from cds_service.pathway.result import NodeResult

__all__ = ["CAUSES", "MORPHOLOGY_HINTS", "Cause", "differential_diagnosis"]


@dataclass(frozen=True, slots=True)
class Cause:
    key: str
    name: str
    appearance: str  # seed 004 "Typical Appearance"
    prevalence: str  # seed 004 "Prevalence"


# Seed 004, in its order of prevalence; wording as in the seed.
CAUSES = (
    Cause("dystrophic", "Dystrophic",
          "small to large amorphous Ca++ in the damaged tissue \u2014 may progress to ossification", "95 \u2013 98 %"),
    Cause("cppd", "CPPD", "chondrocalcinosis", "1 \u2013 2 %"),
    Cause("metastatic", "Metastatic calcification", "finely speckled Ca++ throughout soft tissues", "1 \u2013 2 %"),
    Cause("tumoral-calcinosis", "Tumoral calcinosis", "big globs of Ca++, usually near a joint", "<< 1 %"),
    Cause("metastatic-osteosarcoma", "Metastatic osteosarcoma", "amorphous, fluffy, confluent collection of Ca++",
          "<<< 1 %"),
    Cause("primary-osteosarcoma", "Primary soft tissue osteosarcoma", "amorphous, fluffy, confluent collection of Ca++",
          "<<<< 1 %"),
)

# Seed 004 morphology -> what it suggests.
MORPHOLOGY_HINTS = {
    "phlebolith": "round, dense, sometimes lamellated: a phlebolith (venous; dystrophic)",
    "cysticercosis": "rice-grain calcifications along the muscle fibres: cysticercosis (dystrophic)",
    "dracunculiasis": "small crescentic calcifications: dracunculiasis (dystrophic)",
    "cppd": "chondrocalcinosis: CPPD",
    "tumoral-calcinosis": "big globs of calcium near a joint: tumoral calcinosis",
    "metastatic": "finely speckled calcification: metastatic calcification",
    "osteosarcoma": "amorphous, fluffy, confluent calcification: osteosarcoma (malignancy flag)",
}
# Morphologies that are dystrophic causes in seed 004's "Generic Differential Diagnosis".
DYSTROPHIC_PATTERNS = frozenset({"phlebolith", "cysticercosis", "dracunculiasis"})
CPPD_CONCEPTS = ("chondrocalcinosis", "cppd", "pyrophosphate")


def _class_evidence(facts: Facts, cls: CalcificationClass) -> tuple[Evidence, ...]:
    if facts.classification is not None:
        return tuple(facts.classification.evidence.get(cls, ()))
    fallback = {
        CalcificationClass.METASTATIC: facts.metabolic_conditions,
        CalcificationClass.DYSTROPHIC: facts.dystrophic_causes,
        CalcificationClass.INFECTION: tuple(Evidence(i.label, i.reference, i.when) for i in facts.infections),
    }
    return tuple(fallback.get(cls, ()))


def _support(facts: Facts, classes: frozenset[CalcificationClass]) -> dict[str, list[Evidence]]:
    support: dict[str, list[Evidence]] = {c.key: [] for c in CAUSES}
    if CalcificationClass.DYSTROPHIC in classes:
        support["dystrophic"] += _class_evidence(facts, CalcificationClass.DYSTROPHIC)
    if CalcificationClass.METASTATIC in classes:
        support["metastatic"] += _class_evidence(facts, CalcificationClass.METASTATIC)
    for hint in facts.morphology:
        if hint.pattern in DYSTROPHIC_PATTERNS:
            support["dystrophic"].append(hint.evidence)
        elif hint.pattern == "osteosarcoma":
            support["metastatic-osteosarcoma"].append(hint.evidence)
            support["primary-osteosarcoma"].append(hint.evidence)
        elif hint.pattern in support:
            support[hint.pattern].append(hint.evidence)
    for problem in facts.problems:
        words = f"{problem.concept or ''} {problem.label}".lower()
        if any(w in words for w in CPPD_CONCEPTS):
            support["cppd"].append(problem_evidence(problem))
        if "tumoral" in words:
            support["tumoral-calcinosis"].append(problem_evidence(problem))
    for evidence in facts.malignancy:
        # A known osteosarcoma or soft tissue malignancy supports both osteosarcoma rows; the data rarely
        # say which one.
        support["metastatic-osteosarcoma"].append(evidence)
        support["primary-osteosarcoma"].append(evidence)
    return {key: list(dict.fromkeys(found)) for key, found in support.items()}


def differential_diagnosis(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    classes = lookups.calcification_classes(facts)
    support = _support(facts, classes)
    class_rows = [
        {"name": cls.value, "evidence": [_row(e) for e in _class_evidence(facts, cls)]}
        for cls in CalcificationClass if cls in classes
    ]
    table = [
        {"name": c.name, "appearance": c.appearance, "prevalence": c.prevalence,
         "supported": bool(support[c.key]), "evidence": [_row(e) for e in support[c.key]]}
        for c in CAUSES
    ]
    hints = [{"pattern": h.pattern, "meaning": MORPHOLOGY_HINTS.get(h.pattern, h.pattern), "evidence": _row(h.evidence)}
             for h in facts.morphology]
    evidence = [problem_evidence(p) for p in facts.problems]
    evidence += [e for found in support.values() for e in found]
    evidence += [e for cls in classes for e in _class_evidence(facts, cls)]
    workup_complete = facts.classification.workup_complete if facts.classification else False
    return ctx.result(
        evidence,
        # class_names: which class definitions the card quotes (nodes.toml seed `when`).
        variables={"classes": class_rows, "class_names": [row["name"] for row in class_rows],
                   "table": table, "hints": hints,
                   "malignancy": suspected_malignancy(facts, ctx.limits), "workup_complete": workup_complete},
    )


def _row(evidence: Evidence) -> dict[str, object]:
    return {"label": evidence.label, "when": evidence.when, "reference": evidence.reference}
