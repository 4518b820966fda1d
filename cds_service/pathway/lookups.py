"""Small readings of `Facts` that several questions and nodes share (dates, lookbacks, orders).

Kept apart from `questions.py` so that module holds only the named yes/no questions.
"""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.facts.model import (
    CalcificationClass,
    DraftOrder,
    Facts,
    ImagingEvent,
    LabResult,
    LabTest,
    Modality,
    Problem,
    Side,
)
from cds_service.guideline.config import PathwayConfig

__all__ = [
    "ADVANCED_MODALITIES",
    "FOOT_SITES",
    "METABOLIC_TESTS",
    "calcification_classes",
    "considered_drafts",
    "episode_start",
    "follow_up_ordered",
    "is_foot_draft",
    "is_foot_site",
    "lab_ordered",
    "lab_within",
    "latest_radiograph",
    "missing_metabolic_tests",
    "outstanding_osteomyelitis_studies",
    "problem_side",
    "possibly_foot",
    "procedure_ordered",
    "radiographs_done",
    "reason_references",
    "reasons_only",
    "sided_orderable",
    "referral_ordered",
    "within",
]

FOOT_SITES = frozenset({"foot", "ankle", "toe", "heel"})
ADVANCED_MODALITIES = frozenset({Modality.MR, Modality.CT, Modality.US})
# Seed 000 "Metabolic Disorders": calcium, phosphorus, parathyroid hormone, renal function. Renal function
# is (creatinine or eGFR); creatinine is what we suggest when both are missing.
METABOLIC_TESTS: tuple[tuple[str, tuple[LabTest, ...], str], ...] = (
    ("calcium", (LabTest.CALCIUM,), "lab-calcium"),
    ("phosphate", (LabTest.PHOSPHATE,), "lab-phosphate"),
    ("PTH", (LabTest.PTH,), "lab-pth"),
    ("renal function", (LabTest.CREATININE, LabTest.EGFR), "lab-creatinine"),
)
# Reasons a ServiceRequest may point to (R4 ServiceRequest.reasonReference targets).
REASON_TYPES = ("Condition/", "Observation/", "DiagnosticReport/", "DocumentReference/")


def sided_orderable(stem: str, suffix: str, side: Side | None) -> str:
    """`mr-foot` + side -> "mr-foot-right-wo"; no single side -> "mr-foot-wo" (valuesets.toml names)."""
    if side in (Side.LEFT, Side.RIGHT):
        return f"{stem}-{side.value}-{suffix}"
    return f"{stem}-{suffix}"


def within(when: date | None, today: date, days: int) -> bool:
    """On or after `today - days`. Undated counts as within: better silent than re-order what exists."""
    return when is None or when >= today - timedelta(days=days)


def is_foot_site(site: str | None) -> bool:
    return site in FOOT_SITES


def is_foot_draft(draft: DraftOrder) -> bool:
    """A draft of the foot/ankle, or coded for the lower extremity with no site (possibly of the foot): every
    order rule also asks that the patient be in the foot pathway, and the card says "possibly"."""
    return is_foot_site(draft.body_site) or draft.possibly_foot


def possibly_foot(drafts: list[DraftOrder]) -> list[str]:
    """Labels of the drafts read as the foot only because they have no site (for the card's words)."""
    return [d.label for d in drafts if d.possibly_foot]


def radiographs_done(facts: Facts) -> list[ImagingEvent]:
    """Plain radiographs done, oldest first; undated ones first (they are never 'the latest')."""
    done = [e for e in facts.imaging if e.modality is Modality.XR and e.status == "done"]
    return sorted(done, key=lambda e: (e.when is not None, e.when or date.min))


def latest_radiograph(facts: Facts) -> ImagingEvent | None:
    dated = [e for e in radiographs_done(facts) if e.when is not None]
    return dated[-1] if dated else None


def considered_drafts(facts: Facts) -> list[DraftOrder]:
    """order-select looks at the selections; order-sign marks every draft selected."""
    return [d for d in facts.draft_orders if d.selected]


def _orders(facts: Facts) -> tuple[DraftOrder, ...]:
    return facts.draft_orders + facts.active_orders


def lab_within(facts: Facts, test: LabTest, days: int) -> LabResult | None:
    result = facts.labs.get(test)
    if result is None or not within(result.when, facts.today, days):
        return None
    return result


def lab_ordered(facts: Facts, test: LabTest) -> DraftOrder | None:
    return next((o for o in _orders(facts) if o.lab_test is test), None)


def referral_ordered(facts: Facts, referral: str) -> DraftOrder | None:
    return next((o for o in _orders(facts) if o.referral == referral), None)


def follow_up_ordered(facts: Facts) -> DraftOrder | None:
    return next((o for o in _orders(facts) if o.category == "follow-up"), None)


def procedure_ordered(facts: Facts, procedure: str) -> DraftOrder | None:
    return next((o for o in _orders(facts) if o.procedure == procedure), None)


def imaging_ordered(facts: Facts, modalities: frozenset[Modality]) -> bool:
    """An active order, or a draft of this call, for foot/ankle imaging of one of `modalities`."""
    if facts.imaging_ordered(modalities):
        return True
    return any(
        d.category == "imaging" and d.modality in modalities and is_foot_draft(d) for d in facts.draft_orders
    )


def imaging_done_within(facts: Facts, modalities: frozenset[Modality], days: int) -> list[ImagingEvent]:
    return list(facts.imaging_done(modalities, within_days=days))


def missing_metabolic_tests(facts: Facts, limits: PathwayConfig) -> list[tuple[str, str]]:
    """(test name, orderable) for each part of the work-up neither resulted within lookback nor ordered."""
    missing = []
    for name, tests, orderable in METABOLIC_TESTS:
        done = any(lab_within(facts, t, limits.lab_lookback_days) for t in tests)
        ordered = any(lab_ordered(facts, t) for t in tests)
        if not (done or ordered):
            missing.append((name, orderable))
    return missing


def outstanding_osteomyelitis_studies(facts: Facts, limits: PathwayConfig) -> list[tuple[str, str]]:
    """(study, orderable): probe-to-bone, ESR and CRP first (those neither done nor ordered); MRI once all
    three have results and osteomyelitis is still not diagnosed."""
    days = limits.infection_lab_lookback_days
    initial, pending = [], False
    ptb_done = facts.probe_to_bone_done is not None and within(facts.probe_to_bone_done.when, facts.today, days)
    if not ptb_done:
        if procedure_ordered(facts, "probe-to-bone"):
            pending = True
        else:
            initial.append(("probe-to-bone test", "probe-to-bone-test"))
    for test, name in ((LabTest.ESR, "ESR"), (LabTest.CRP, "CRP")):
        if not lab_within(facts, test, days):
            if lab_ordered(facts, test):
                pending = True
            else:
                initial.append((name, f"lab-{test.value}"))
    if initial or pending:  # MRI only once the initial studies have results ("if still uncertain")
        return initial
    mri = frozenset({Modality.MR})
    if imaging_done_within(facts, mri, limits.imaging_lookback_days) or imaging_ordered(facts, mri):
        return []
    return [("MRI of the foot", sided_orderable("mr-foot", "wo", problem_side(facts)))]


def calcification_classes(facts: Facts) -> frozenset[CalcificationClass]:
    """The classes the facts step found; classifying is its job, so without one the class is undetermined."""
    if facts.classification is None:
        return frozenset({CalcificationClass.UNDETERMINED})
    return facts.classification.classes


def _start(problem: Problem) -> date | None:
    return problem.onset or problem.recorded


def episode_start(facts: Facts) -> date | None:
    """When the earliest active in-pathway problem began (onset, else recorded date)."""
    starts = [s for p in facts.problems if p.active and (s := _start(p)) is not None]
    return min(starts) if starts else None


def problem_side(facts: Facts) -> Side | None:
    """The one side every in-pathway problem shares, else None (bilateral or mixed or unknown)."""
    sides = {p.side for p in facts.problems}
    if len(sides) == 1:
        (side,) = sides
        return side if side in (Side.LEFT, Side.RIGHT) else None
    return None


def reasons_only(references: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Keep the references a ServiceRequest.reasonReference may point to, once each."""
    return tuple(dict.fromkeys(r for r in references if r.startswith(REASON_TYPES)))


def reason_references(facts: Facts) -> tuple[str, ...]:
    """The in-pathway problems a new order can cite as its reason."""
    return reasons_only([p.reference for p in facts.problems])
