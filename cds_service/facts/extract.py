"""ClinicalData (the selected, validated JSON) -> Facts, the typed record the pathway rules read.

Everything is dated relative to `today`; lookback windows include both ends (see `facts.dates.within`).
Each part lives in its own module: conditions, labs, imaging, orders, classification.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cds_service.facts.access import get, reference_of, text
from cds_service.facts.classification import classify
from cds_service.facts.conditions import condition_counts, condition_facts
from cds_service.facts.dates import to_date
from cds_service.facts.imaging import REPORT_STATUSES, imaging_facts
from cds_service.facts.labs import latest_labs
from cds_service.facts.model import Evidence, Facts, Infection, LabTest, Problem
from cds_service.facts.orders import ORDER_HOOKS, draft_order_problems, read_order
from cds_service.gathering.records import ClinicalData
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.valuesets import load_valuesets, normalising_once

__all__ = ["DFI_INFECTION_KINDS", "build_facts"]

# spec dfi-reassessment: diabetes with cellulitis, abscess, necrotizing infection or osteomyelitis of the foot
DFI_INFECTION_KINDS = frozenset({"cellulitis", "abscess", "deep-abscess", "necrotizing", "osteomyelitis"})


def _unique_problems(problems: list[Problem]) -> tuple[Problem, ...]:
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if problem.reference not in seen:
            seen.add(problem.reference)
            unique.append(problem)
    return tuple(unique)


def _diabetic_foot_infection(diabetes: Evidence | None, infections: list[Infection]) -> Evidence | None:
    for infection in infections:
        if infection.kind == "diabetic-foot-infection":
            return Evidence(infection.label, infection.reference, infection.when)
    if diabetes is None:
        return None
    for infection in infections:
        if infection.kind in DFI_INFECTION_KINDS:
            return Evidence(f"{infection.label} with {diabetes.label}", infection.reference, infection.when)
    return None


@normalising_once()  # each text of the call normalised once, whatever the value sets it is tested against
def build_facts(data: ClinicalData, *, hook: str, today: date, config: PathwayConfig) -> Facts:
    valuesets = load_valuesets()
    birth_date = to_date(get(data.patient, "birthDate")) if data.patient is not None else None
    conditions = [c for c in data.conditions if not _after(c, today)]
    from_conditions = condition_facts(tuple(conditions), valuesets, birth_date)
    labs = latest_labs(data.observations, today=today, config=config, valuesets=valuesets)
    from_imaging = imaging_facts(
        data,
        today=today,
        probe_lookback_days=config.infection_lab_lookback_days,
        valuesets=valuesets,
        history_days=config.imaging_history_days,
    )

    infections = list(from_conditions.infections)
    culture = labs.get(LabTest.CULTURE)
    if culture is not None and culture.positive:
        infections.append(Infection("positive-culture", culture.reference, culture.describe(), culture.when))

    selections = set(data.selections)
    # A draft's reasonReference is read for the site it names (a knee injury): only the record's Conditions
    # and reports can be reasons, looked up by reference when a draft has one.
    reasons: dict[str, Any] | None = None

    def resolve(reference: str) -> Any:
        nonlocal reasons
        if reasons is None:
            reasons = {reference_of(r): r for r in (*conditions, *data.diagnostic_reports)}
        return reasons.get(reference)

    drafts = [
        (
            read_order(
                draft, selected=reference_of(draft) in selections, valuesets=valuesets, raw=draft, resolve=resolve
            ),
            draft,
        )
        for draft in data.draft_orders
    ]
    # Active imaging orders are ImagingEvents (status "ordered"); the rest are read like draft orders.
    active = [
        order
        for order in (read_order(m, selected=False, valuesets=valuesets) for m in data.service_requests)
        if order.status == "active" and order.category != "imaging"
    ]

    problems = [*from_conditions.problems, *from_imaging.problems]
    if hook in ORDER_HOOKS and drafts:
        resources: dict[str, Any] = {reference_of(c): c for c in conditions if condition_counts(c)}
        resources.update(
            {reference_of(r): r for r in data.diagnostic_reports if text(r, "status") in REPORT_STATUSES}
        )
        foot_problems = frozenset(p.reference for p in problems)
        problems += draft_order_problems(drafts, resources, valuesets, foot_problems, birth_date)

    classification = classify(
        infections=infections,
        metabolic_conditions=from_conditions.metabolic,
        dystrophic_causes=from_conditions.dystrophic,
        morphology=from_imaging.morphology,
        labs=labs,
        # issue 16: a suspected tumour, an ulcer or eschar at the calcification's site (classification.py)
        malignancy=from_conditions.malignancy,
        foot_ulcer=from_conditions.foot_ulcer,
        eschar=from_conditions.eschar,
        problems=problems,
    )
    return Facts(
        today=today,
        patient_id=data.patient_id,
        hook=hook,
        problems=_unique_problems(problems),
        classification=classification,
        labs=labs,
        imaging=tuple(from_imaging.events),
        infections=tuple(infections),
        diabetes=from_conditions.diabetes,
        foot_ulcer=from_conditions.foot_ulcer,
        osteomyelitis=from_conditions.osteomyelitis,
        eschar=from_conditions.eschar,
        wet_gangrene=from_conditions.wet_gangrene,
        ischemia=from_conditions.ischemia,
        urgent_surgical=tuple(from_conditions.urgent_surgical),
        metabolic_conditions=tuple(from_conditions.metabolic),
        metabolic_kinds=frozenset(from_conditions.metabolic_kinds),
        dystrophic_causes=tuple(from_conditions.dystrophic),
        malignancy=tuple(from_conditions.malignancy),
        foot_pain=from_conditions.foot_pain,
        bone_destruction=from_imaging.bone_destruction,
        morphology=tuple(from_imaging.morphology),
        probe_to_bone_done=from_imaging.probe_to_bone,
        draft_orders=tuple(order for order, _ in drafts),
        active_orders=tuple(active),
        diabetic_foot_infection=_diabetic_foot_infection(from_conditions.diabetes, infections),
        deceased=_deceased(data.patient, today),
    )


def _deceased(patient: Any, today: date) -> Evidence | None:
    """Patient.deceasedBoolean true, or a deceasedDateTime on or before `today` (one after it is not yet)."""
    if patient is None:
        return None
    if get(patient, "deceasedBoolean") is True:
        return Evidence("Patient recorded as deceased", "Patient")
    when = to_date(get(patient, "deceasedDateTime"))
    if when is not None and when <= today:
        return Evidence("Patient recorded as deceased", "Patient", when)
    return None


def _after(condition: Any, today: date) -> bool:
    """A Condition recorded or starting after `today` is not part of an evaluation as of `today`. Only a
    stated start counts here: `onset_start` gives the latest a start can have been (an onsetAge of the
    current year of age may end after today), which says nothing about a future problem."""
    onset = to_date(get(condition, "onsetDateTime")) or to_date(get(get(condition, "onsetPeriod"), "start"))
    if onset is None and get(condition, "onsetDateTime") is None:
        onset = to_date(get(condition, "recordedDate"))
    return onset is not None and onset > today
