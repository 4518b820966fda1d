"""The pathway's yes/no questions, one small pure function each, named as the question it answers.

`nodes.toml` combines them into rules; every name used there must be in `QUESTIONS`. Each docstring says
where the question comes from (seed 000 / 004 and its reference number, or the pathway-spec) so a
clinician can review it next to the text. A question reads only `Facts` and `PathwayConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from cds_service.facts.model import CalcificationClass, Facts, LabTest, Modality
from cds_service.guideline.config import PathwayConfig
from cds_service.pathway import lookups

__all__ = ["QUESTIONS", "Question", "answer"]

Question = Callable[[Facts, PathwayConfig], bool]
QUESTIONS: dict[str, Question] = {}

XR = frozenset({Modality.XR})
SPREADING_INFECTION = frozenset({"cellulitis", "abscess", "deep-abscess"})
DFI_KINDS = frozenset({"cellulitis", "abscess", "deep-abscess", "necrotizing", "osteomyelitis"})
UNCERTAIN_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})


def question(fn: Question) -> Question:
    QUESTIONS[fn.__name__] = fn
    return fn


def answer(name: str, facts: Facts, limits: PathwayConfig) -> bool:
    """Answer a question named in nodes.toml; a leading "not " negates."""
    negate = name.startswith("not ")
    key = name[4:] if negate else name
    try:
        fn = QUESTIONS[key]
    except KeyError:
        raise KeyError(f"nodes.toml names an unknown question {key!r}; see cds_service/pathway/questions.py") from None
    return fn(facts, limits) != negate


# --- entry -------------------------------------------------------------------------------------------


@question
def in_pathway(facts: Facts, limits: PathwayConfig) -> bool:
    """Is there an in-pathway problem (calcification of the foot, foot soft tissue mass, imaging finding,
    or the reason of a draft foot imaging order)? pathway-spec "Who is in the pathway"."""
    return facts.in_pathway


@question
def problem_active(facts: Facts, limits: PathwayConfig) -> bool:
    """Is an in-pathway problem still active? pathway-spec repeat-radiograph."""
    return any(p.active for p in facts.problems)


# --- imaging -----------------------------------------------------------------------------------------


@question
def has_recent_foot_radiograph(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a foot/ankle plain radiograph done within the imaging lookback? Seed 000 ref 1: plain radiographs
    are the first-line imaging modality."""
    return bool(lookups.imaging_done_within(facts, XR, limits.imaging_lookback_days))


@question
def radiograph_already_ordered(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a foot/ankle radiograph already ordered (active ServiceRequest) or among the draft orders?"""
    return lookups.imaging_ordered(facts, XR)


@question
def diagnosis_uncertain(facts: Facts, limits: PathwayConfig) -> bool:
    """Does the diagnosis remain in doubt (seed 000 ref 1)? A problem that is provisional, differential or
    unconfirmed, or a calcification class still undetermined."""
    if any(p.verification in UNCERTAIN_VERIFICATION for p in facts.problems):
        return True
    return CalcificationClass.UNDETERMINED in lookups.calcification_classes(facts)


@question
def advanced_imaging_done_or_ordered(facts: Facts, limits: PathwayConfig) -> bool:
    """Is an MRI, ultrasound or CT of the foot done within the imaging lookback, or ordered?"""
    modalities = lookups.ADVANCED_MODALITIES
    return bool(lookups.imaging_done_within(facts, modalities, limits.imaging_lookback_days)) or lookups.imaging_ordered(
        facts, modalities
    )


@question
def single_recent_radiograph_since_onset(facts: Facts, limits: PathwayConfig) -> bool:
    """Is the latest foot radiograph 0-90 days old and the only one of this episode (no repeat yet)?
    Seed 000 ref 2: repeat radiographs after 2-4 weeks. The episode starts at the problem's onset (else
    its recorded date) or at the latest radiograph when that came first (the film that found it)."""
    latest = lookups.latest_radiograph(facts)
    if latest is None or latest.when is None:
        return False
    age = (facts.today - latest.when).days
    if not 0 <= age <= limits.repeat_xr_max_age_days:
        return False
    start = lookups.episode_start(facts)
    start = latest.when if start is None else min(start, latest.when)
    in_episode = [e for e in lookups.radiographs_done(facts) if e.when is not None and e.when >= start]
    return len(in_episode) == 1


@question
def drafted_advanced_foot_imaging(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a draft (selected) MRI, CT or ultrasound of the foot/ankle being ordered?"""
    return any(
        d.category == "imaging" and d.modality in lookups.ADVANCED_MODALITIES and lookups.is_foot_draft(d)
        for d in lookups.considered_drafts(facts)
    )


@question
def drafted_foot_ct(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a draft (selected) CT of the foot/ankle being ordered?"""
    return any(
        d.category == "imaging" and d.modality is Modality.CT and lookups.is_foot_draft(d)
        for d in lookups.considered_drafts(facts)
    )


@question
def drafted_early_repeat_radiograph(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a draft foot radiograph dated less than 14 days after the last one (seed 000 ref 2: 2-4 weeks)?
    A draft without a date counts as today."""
    latest = lookups.latest_radiograph(facts)
    if latest is None or latest.when is None:
        return False
    earliest = latest.when + timedelta(days=limits.repeat_xr_min_days)
    return any(
        d.category == "imaging" and d.modality is Modality.XR and lookups.is_foot_draft(d)
        and (d.occurrence or facts.today) < earliest
        for d in lookups.considered_drafts(facts)
    )


# --- classification and metabolism ----------------------------------------------------------------------


@question
def metastatic_or_undetermined(facts: Facts, limits: PathwayConfig) -> bool:
    """Is the calcification class metastatic (abnormal calcium metabolism, seed 000 refs 1, 3) or not yet
    determined? Either way the metabolic work-up is needed."""
    classes = lookups.calcification_classes(facts)
    return bool(classes & {CalcificationClass.METASTATIC, CalcificationClass.UNDETERMINED})


@question
def metabolic_lab_missing(facts: Facts, limits: PathwayConfig) -> bool:
    """Is calcium, phosphate, PTH or renal function neither resulted within the lab lookback nor ordered?
    Seed 000 ref 1: laboratory evaluation should include them."""
    return bool(lookups.missing_metabolic_tests(facts, limits))


@question
def drafted_duplicate_lab(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a draft (selected) lab a test already resulted within the last 30 days?"""
    return any(
        d.lab_test is not None and lookups.lab_within(facts, d.lab_test, limits.duplicate_lab_window_days)
        for d in lookups.considered_drafts(facts)
    )


def abnormal_metabolic_labs(facts: Facts, limits: PathwayConfig) -> list:
    """The lab results that make metabolism abnormal (pathway-spec thresholds; interpretation wins)."""
    found = []
    for test in (LabTest.CALCIUM, LabTest.PHOSPHATE, LabTest.PTH):
        result = lookups.lab_within(facts, test, limits.lab_lookback_days)
        if result is not None and result.abnormal:
            found.append(result)
    egfr = lookups.lab_within(facts, LabTest.EGFR, limits.lab_lookback_days)
    # The pathway's threshold decides a value (a comparator only where it is unambiguous: ">60" is not
    # below 60); without a value, the result's own interpretation.
    if egfr is not None and (
        egfr.below(limits.egfr_threshold)
        or (egfr.value is None and egfr.abnormal and egfr.direction == "low")
    ):
        found.append(egfr)
    vitamin_d = lookups.lab_within(facts, LabTest.VITAMIN_D, limits.lab_lookback_days)
    if vitamin_d is not None and vitamin_d.abnormal and vitamin_d.direction != "low":
        found.append(vitamin_d)  # only a high 25-OH vitamin D is a cause (hypervitaminosis D)
    return found


@question
def metabolic_abnormality(facts: Facts, limits: PathwayConfig) -> bool:
    """Is calcium metabolism abnormal: an abnormal calcium, phosphate or PTH, eGFR < 60, a high vitamin D,
    or a metabolic condition (seed 000 refs 1, 3: renal failure, hyperparathyroidism, hypervitaminosis D)?"""
    return bool(facts.metabolic_conditions) or bool(abnormal_metabolic_labs(facts, limits))


# --- diabetic foot and infection ------------------------------------------------------------------------


@question
def has_diabetes(facts: Facts, limits: PathwayConfig) -> bool:
    """Does the patient have diabetes mellitus? Seed 000 ref 2, "Diabetic Foot"."""
    return facts.diabetes is not None


@question
def has_foot_ulcer_or_infection(facts: Facts, limits: PathwayConfig) -> bool:
    """Is there a foot ulcer or a foot infection?"""
    return facts.foot_ulcer is not None or bool(facts.infections)


@question
def has_osteomyelitis_diagnosis(facts: Facts, limits: PathwayConfig) -> bool:
    """Is osteomyelitis of the foot already diagnosed?"""
    return facts.osteomyelitis is not None or any(i.kind == "osteomyelitis" for i in facts.infections)


@question
def osteomyelitis_studies_outstanding(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a rule-out study (probe-to-bone, ESR, CRP within 30 days; then MRI) neither done nor ordered?
    Seed 000 ref 1: consider probe-to-bone test, ESR, CRP as initial studies."""
    return bool(lookups.outstanding_osteomyelitis_studies(facts, limits))


@question
def diabetic_foot_infection(facts: Facts, limits: PathwayConfig) -> bool:
    """Is there a diabetic foot infection: a coded one (SNOMED 200687002), or diabetes with cellulitis,
    abscess, necrotizing infection or osteomyelitis of the foot? Seed 000 ref 2."""
    if facts.diabetic_foot_infection is not None or any(i.kind == "diabetic-foot-infection" for i in facts.infections):
        return True
    return facts.diabetes is not None and any(i.kind in DFI_KINDS for i in facts.infections)


@question
def osteomyelitis_or_dfi_suspected(facts: Facts, limits: PathwayConfig) -> bool:
    """Is osteomyelitis or a diabetic foot infection diagnosed or suspected (diabetes with a foot ulcer,
    where seed 000 ref 2 says osteomyelitis must be ruled out)?"""
    return (
        has_osteomyelitis_diagnosis(facts, limits)
        or diabetic_foot_infection(facts, limits)
        or (facts.diabetes is not None and facts.foot_ulcer is not None)
    )


@question
def inflammatory_markers_high(facts: Facts, limits: PathwayConfig) -> bool:
    """Is the ESR or the CRP high (resulted within the infection-lab lookback, 30 days)? Seed 000 ref 1 names
    them as initial studies for osteomyelitis: a high one is no "asymptomatic or mildly symptomatic"
    calcification (conservative care, seed 000 ref 1). A result whose direction is not given but flagged
    abnormal counts; a low one does not."""
    for test in (LabTest.ESR, LabTest.CRP):
        result = facts.lab(test)
        if result is not None and result.abnormal and result.direction != "low":
            return True
    return False


@question
def infection_related(facts: Facts, limits: PathwayConfig) -> bool:
    """Is the calcification infection-related (seed 000 refs 1, 2)?"""
    return CalcificationClass.INFECTION in lookups.calcification_classes(facts)


@question
def urgent_surgical_condition(facts: Facts, limits: PathwayConfig) -> bool:
    """Is there a deep abscess, compartment syndrome or necrotizing soft tissue infection (seed 000 ref 2)?"""
    return bool(facts.urgent_surgical)


@question
def eschar_in_ischemic_foot(facts: Facts, limits: PathwayConfig) -> bool:
    """Is there a dry eschar (or gangrene stated dry) of the foot in an ischemic foot (seed 000 ref 2), with
    no infection? A wet, gas or infected gangrene, any foot infection (a positive culture included), or an
    urgent surgical condition means the wound is not left alone: the response never says both "operate
    urgently" and "avoid debridement". Sides are not compared (local default: quiet when in doubt)."""
    return (
        facts.eschar is not None
        and facts.ischemia is not None
        and facts.wet_gangrene is None
        and not facts.infections
        and not facts.urgent_surgical
    )


@question
def drafted_foot_debridement(facts: Facts, limits: PathwayConfig) -> bool:
    """Is a draft (selected) debridement of the foot being ordered? No body site counts as the foot; a body
    site elsewhere (hand, thigh) does not."""
    return any(
        d.procedure == "debridement" and (d.body_site is None or lookups.is_foot_site(d.body_site))
        for d in lookups.considered_drafts(facts)
    )


# --- surgery and malignancy -----------------------------------------------------------------------------


@question
def not_responding_to_conservative_care(facts: Facts, limits: PathwayConfig) -> bool:
    """Is the calcification symptomatic despite conservative care: foot pain still active and the
    calcification problem began at least 6 weeks ago? Seed 000 ref 1."""
    if facts.foot_pain is None:
        return False
    cutoff = facts.today - timedelta(weeks=limits.conservative_care_min_weeks)
    return any(
        p.active and p.kind == "calcification" and (start := p.onset or p.recorded) is not None and start <= cutoff
        for p in facts.problems
    )


@question
def osteomyelitis_with_spreading_infection(facts: Facts, limits: PathwayConfig) -> bool:
    """Is there osteomyelitis with spreading soft tissue infection (cellulitis or abscess of the foot)?
    Seed 000 ref 2."""
    return has_osteomyelitis_diagnosis(facts, limits) and any(i.kind in SPREADING_INFECTION for i in facts.infections)


@question
def progressive_bone_destruction(facts: Facts, limits: PathwayConfig) -> bool:
    """Does imaging report progressive bone destruction on X-ray (seed 000 ref 2)?"""
    return facts.bone_destruction is not None


@question
def surgical_referral_indicated(facts: Facts, limits: PathwayConfig) -> bool:
    """Does any surgical-referral scenario of seed 000 hold (not responding, osteomyelitis with spreading
    infection, progressive bone destruction)?"""
    return (
        not_responding_to_conservative_care(facts, limits)
        or osteomyelitis_with_spreading_infection(facts, limits)
        or progressive_bone_destruction(facts, limits)
    )


@question
def suspected_malignancy(facts: Facts, limits: PathwayConfig) -> bool:
    """Is malignancy suspected: osteosarcoma or a malignant soft tissue neoplasm of the lower limb, or an
    amorphous, fluffy, confluent calcification (seed 004)? Seed 000 ref 1."""
    return bool(facts.malignancy) or any(h.malignant for h in facts.morphology)
