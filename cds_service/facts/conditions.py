"""Facts from Conditions: the problems that put a patient in the pathway, and the clinical context
(diabetes, ulcer, infection, metabolic and dystrophic causes, malignancy, pain, eschar, ischemia).

A Condition counts when its clinicalStatus is absent or active/recurrence/relapse and its
verificationStatus is not refuted/entered-in-error (spec "Vocabulary"). No fact is broader than the record:
- concepts whose code does not name the foot (or names a wider region: lower limb, leg) need a
  foot/ankle/heel/toe bodySite, or a foot word in the Condition's own text;
- a bodySite naming another place (thigh, hand) is not the foot, whatever the code says;
- a problem whose own text opens or closes with "no evidence of", "ruled out" is not a problem; with
  "history of", "resolved", "s/p" it is a past one (read like a resolved Condition);
- when the code's side and the written side disagree, the side is unknown;
- only a dry eschar, or gangrene stated dry, is an eschar for `eschar-no-debridement`; wet, gas or infected
  gangrene (or an infected eschar) is an infected wound: a foot infection (kind "wet-gangrene"), never
  "avoid debridement".
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cds_service.facts.access import codings, concept_texts, concepts, get, status_code, text_of
from cds_service.facts.dates import to_date
from cds_service.facts.model import Evidence, Infection, Problem, Side
from cds_service.facts.recognise import body_site_elsewhere, body_site_side, display_of, foot_site, one_side
from cds_service.facts.text import Match, match_concepts, match_read, side_in_text, statement_cue
from cds_service.facts.values import number_of
from cds_service.guideline.valuesets import ValueSets

__all__ = ["COUNTING_CLINICAL_STATUSES", "ConditionFacts", "condition_counts", "condition_facts", "onset_start"]

COUNTING_CLINICAL_STATUSES = frozenset({"active", "recurrence", "relapse"})
EXCLUDED_VERIFICATION_STATUSES = frozenset({"refuted", "entered-in-error"})

# Entry concepts (spec "Who is in the pathway" 1 and 2), in the order they are tried.
_ENTRY_SETS = (
    ("calcification-foot-site", "calcification"),
    ("calcification-concept", "calcification"),
    ("soft-tissue-mass-foot", "soft-tissue-mass"),
    ("soft-tissue-mass", "soft-tissue-mass"),
)
# Sets whose concept is about the foot: a code that does not name the foot needs a foot bodySite or text.
_FOOT_SETS = frozenset(
    {
        "calcification-foot-site",
        "calcification-concept",
        "soft-tissue-mass-foot",
        "soft-tissue-mass",
        "foot-ulcer",
        "diabetic-foot-infection",
        "osteomyelitis-foot",
        "osteomyelitis",
        "cellulitis-foot",
        "cellulitis-lower-limb",
        "abscess-foot",
        "deep-abscess",
        "foot-trauma",
        "foot-pain",
        "eschar",
        "gangrene-foot",
        "gangrene",
    }
)
_INFECTION_SETS = (
    ("osteomyelitis-foot", "osteomyelitis"),
    ("osteomyelitis", "osteomyelitis"),
    ("cellulitis-foot", "cellulitis"),
    ("cellulitis-lower-limb", "cellulitis"),
    ("abscess-foot", "abscess"),
    ("deep-abscess", "deep-abscess"),
    ("necrotizing-infection", "necrotizing"),
    ("diabetic-foot-infection", "diabetic-foot-infection"),
)
# value set -> kind of metabolic disorder (the pathway picks the referral from the kind)
_METABOLIC_SETS = {
    "ckd-stage-3-5": "renal",
    "hyperparathyroidism": "parathyroid",
    "hypervitaminosis-d": "vitamin-d",
    "calcium-phosphate-disorder": "calcium-phosphate",
}
# seed 000 ("post-traumatic calcifications, calcific tendinitis, myositis ossificans") + seed 004 causes
_DYSTROPHIC_SETS = (
    "foot-trauma",
    "venous-insufficiency",
    "parasitic-infestation",
    "dermatomyositis",
    "scleroderma",
    "injection-granuloma",
    "malignancy",
)
# Problem concepts (codes' concept names and text terms) that are dystrophic by themselves.
DYSTROPHIC_CONCEPTS = frozenset(
    {
        "calcific-tendinitis",
        "myositis-ossificans",
        "heterotopic-ossification",
        "dystrophic-calcification",
        "paralytic-calcification",
        "burn-calcification",
        "calcific tendinitis",
        "calcific tendonitis",
        "myositis ossificans",
        "heterotopic ossification",
        "ossification of muscle",
    }
)


# UCUM age units (FHIR Age) and the words EHRs print instead -> (months, days) per unit.
_AGE_UNITS = {"a": (12, 0), "mo": (1, 0), "wk": (0, 7), "d": (0, 1)}
_AGE_WORDS = {"year": "a", "years": "a", "yr": "a", "yrs": "a", "y": "a", "month": "mo", "months": "mo",
              "week": "wk", "weeks": "wk", "day": "d", "days": "d"}


def _add_age(birth: date, age: Any) -> date | None:
    """The last day of an Age counted from `birth`: "aged 50 a" runs to the day before the 51st birthday,
    so this is the latest the problem can have begun. None for a unit that is not a calendar age."""
    value = number_of(get(age, "value"))
    unit = get(age, "code") or get(age, "unit")
    unit = _AGE_WORDS.get(str(unit).strip().lower(), str(unit).strip()) if unit else None
    if value is None or value < 0 or unit not in _AGE_UNITS:
        return None
    whole = value == int(value)
    amount = value + 1 if whole else value  # to the end of that year (month, week, day) of age
    months_per, days_per = _AGE_UNITS[unit]
    try:
        if months_per:
            year, month = divmod(birth.month - 1 + int(amount * months_per), 12)
            year += birth.year
            when = date(year, month + 1, min(birth.day, calendar.monthrange(year, month + 1)[1]))
        else:
            when = birth + timedelta(days=int(amount * days_per))
    except (OverflowError, ValueError):
        return None
    return when - timedelta(days=1) if whole else when


def onset_start(condition: Any, birth_date: date | None = None) -> date | None:
    """When the problem began, from any onset[x], at the latest it can have been (a fact never broader than
    the record: a 6-week rule must not fire on a start the record does not give):
    onsetDateTime; onsetPeriod.start, else its end ("began no later than"); onsetAge and onsetRange from the
    patient's birthDate (an age in whole years is read to its last day; a range to its high end; a range
    with only a low end gives no latest start); onsetString only when it is a date. None otherwise."""
    when = to_date(get(condition, "onsetDateTime"))
    if when is not None:
        return when
    period = get(condition, "onsetPeriod")
    if period is not None:
        when = to_date(get(period, "start")) or to_date(get(period, "end"))
        if when is not None:
            return when
    if birth_date is not None:
        age = get(condition, "onsetAge")
        if age is not None:
            return _add_age(birth_date, age)
        onset_range = get(condition, "onsetRange")
        if onset_range is not None:
            high = get(onset_range, "high")
            if high is not None:
                return _add_age(birth_date, high)
            # A range with only a low end says "no earlier than": no latest start, so no start to count from.
    text = get(condition, "onsetString")
    if isinstance(text, str) and len(text.strip()) >= 4 and text.strip()[:4].isdigit():
        return to_date(text.strip())
    return None


def condition_counts(condition: Any) -> bool:
    """A current problem: clinicalStatus absent or active/recurrence/relapse, not refuted or entered in
    error, and its own text does not say it is negated or past."""
    clinical = status_code(get(condition, "clinicalStatus"))
    verification = status_code(get(condition, "verificationStatus"))
    return (
        (clinical is None or clinical in COUNTING_CLINICAL_STATUSES)
        and verification not in EXCLUDED_VERIFICATION_STATUSES
        and statement_cue(text_of(get(get(condition, "code"), "text"))) is None
    )


def _never_counts(condition: Any) -> bool:
    """Refuted, entered in error, or negated by its own words ("no evidence of", "ruled out")."""
    return (
        status_code(get(condition, "verificationStatus")) in EXCLUDED_VERIFICATION_STATUSES
        or statement_cue(text_of(get(get(condition, "code"), "text"))) == "negated"
    )


@dataclass(slots=True)
class ConditionFacts:
    problems: list[Problem] = field(default_factory=list)
    infections: list[Infection] = field(default_factory=list)
    diabetes: Evidence | None = None
    foot_ulcer: Evidence | None = None
    osteomyelitis: Evidence | None = None
    eschar: Evidence | None = None  # a dry eschar, or gangrene stated dry, of the foot
    wet_gangrene: Evidence | None = None  # wet, gas or infected gangrene / eschar of the foot
    ischemia: Evidence | None = None
    urgent_surgical: list[Evidence] = field(default_factory=list)
    metabolic: list[Evidence] = field(default_factory=list)
    metabolic_kinds: set[str] = field(default_factory=set)
    dystrophic: list[Evidence] = field(default_factory=list)
    malignancy: list[Evidence] = field(default_factory=list)
    foot_pain: Evidence | None = None


@dataclass(frozen=True, slots=True)
class _Condition:
    model: Any
    reference: str
    label: str
    onset: date | None
    recorded: date | None
    texts: tuple[str, ...]  # code and bodySite texts, for site and side words
    elsewhere: bool  # the bodySite names another place than the foot
    # The code, read once: it is tested against some thirty value sets.
    code_pairs: tuple[tuple[str | None, str | None], ...] = ()
    code_texts: tuple[str, ...] = ()
    valuesets: ValueSets | None = None

    @property
    def when(self) -> date | None:
        return self.onset or self.recorded

    def evidence(self) -> Evidence:
        return Evidence(self.label, self.reference, self.when)


def _view(condition: Any, valuesets: ValueSets, birth_date: date | None = None) -> _Condition:
    code = get(condition, "code")
    onset = onset_start(condition, birth_date)
    code_texts = tuple(concept_texts(code))  # read once: the label, the texts and every value set use them
    return _Condition(
        model=condition,
        reference=f"Condition/{get(condition, 'id')}",
        # The code's first text; a coding without a display is named from the value set that knows it.
        label=(code_texts[0] if code_texts else None) or display_of([code], valuesets) or "Condition",
        onset=onset,
        recorded=to_date(get(condition, "recordedDate")),
        texts=code_texts + tuple(concept_texts(*concepts(condition, "bodySite"))),
        elsewhere=body_site_elsewhere(condition, valuesets),
        code_pairs=tuple(codings(code)),
        code_texts=code_texts,
        valuesets=valuesets,
    )


def _find(valuesets: ValueSets, name: str, view: _Condition) -> tuple[Match, str | None] | None:
    """The match of value set `name` on the Condition, with its foot site; None when absent or off-site."""
    found = match_read(valuesets[name], view.code_pairs, view.code_texts)
    if found is None:
        return None
    if name in _FOOT_SETS and view.elsewhere:
        return None  # "another site" is an answer: not the foot, whatever the code names
    site: str | None = None
    if found.member is not None and found.member.site == "foot":
        site = found.member.concept if found.member.concept in {"foot", "ankle", "heel", "toe"} else "foot"
    if site is None:
        site = foot_site(view.model, extra_texts=view.texts, valuesets=valuesets)
    if name in _FOOT_SETS and site is None:
        return None
    return found, site


def _side(found: Match, view: _Condition) -> Side | None:
    # A laterality conflict gives no side rather than the wrong one.
    written = side_in_text(*view.texts)
    coded_site = body_site_side(view.model, view.valuesets) if view.valuesets is not None else None
    written = one_side(coded_site, written) if written and coded_site else written or coded_site
    word = one_side(found.member.side if found.member is not None else None, written)
    return Side(word) if word else None


def _severity(valuesets: ValueSets, condition: Any) -> str | None:
    found = match_concepts(valuesets["severity"], [get(condition, "severity")], text=False)
    if found is not None and found.member is not None:
        return found.member.concept
    for text in concept_texts(get(condition, "severity")):
        for word in ("severe", "moderate", "mild"):
            if word in text.lower():
                return word
    return None


def _entry_problem(valuesets: ValueSets, view: _Condition) -> Problem | None:
    for name, kind in _ENTRY_SETS:
        hit = _find(valuesets, name, view)
        if hit is None:
            continue
        found, site = hit
        return Problem(
            reference=view.reference,
            kind=kind,
            label=view.label if view.label != "Condition" else (found.member.display if found.member else kind),
            concept=found.concept,
            side=_side(found, view),
            onset=view.onset,
            recorded=view.recorded,
            verification=status_code(get(view.model, "verificationStatus")),
            active=True,
            matched_by_text=found.by_text,
            body_site=site,
        )
    return None


def _eschar(valuesets: ValueSets, view: _Condition) -> tuple[bool, bool]:
    """(dry, wet) for an eschar or gangrene of the foot. An eschar is dry unless its words say otherwise;
    gangrene only when stated dry (wet or dry unknown is neither: not broader than the record)."""
    eschar = _find(valuesets, "eschar", view) is not None
    if not eschar and not any(_find(valuesets, name, view) for name in ("gangrene-foot", "gangrene")):
        return False, False
    wet = any(valuesets["gangrene-wet"].matches_text(text) for text in view.texts)
    if eschar:
        return not wet, wet
    dry = any(valuesets["gangrene-dry"].matches_text(text) for text in view.texts)
    return dry and not wet, wet


def condition_facts(
    conditions: tuple[Any, ...], valuesets: ValueSets, birth_date: date | None = None
) -> ConditionFacts:
    facts = ConditionFacts()
    for condition in conditions:
        if not condition_counts(condition):
            # Local decision: a past cause of dystrophic calcification (an old foot injury, an injection
            # granuloma) still explains it when resolved; seed 000 names "post-traumatic calcifications".
            # Refuted, entered-in-error or negated ones never count.
            if not _never_counts(condition):
                view = _view(condition, valuesets, birth_date)
                if any(_find(valuesets, name, view) for name in _DYSTROPHIC_SETS):
                    facts.dystrophic.append(view.evidence())
            continue
        view = _view(condition, valuesets, birth_date)
        problem = _entry_problem(valuesets, view)
        if problem is not None:
            facts.problems.append(problem)
            if problem.concept in DYSTROPHIC_CONCEPTS:
                facts.dystrophic.append(view.evidence())

        if facts.diabetes is None and _find(valuesets, "diabetes", view):
            facts.diabetes = view.evidence()
        if facts.foot_ulcer is None and _find(valuesets, "foot-ulcer", view):
            facts.foot_ulcer = view.evidence()
        if facts.ischemia is None and _find(valuesets, "ischemia", view):
            facts.ischemia = view.evidence()
        if facts.foot_pain is None and _find(valuesets, "foot-pain", view):
            facts.foot_pain = view.evidence()
        dry, wet = _eschar(valuesets, view)
        if dry and facts.eschar is None:
            facts.eschar = view.evidence()
        if wet:
            # Wet or infected gangrene is an infected wound (an infectious process of seed 000's
            # infection-related class): never left alone, and read as a foot infection.
            facts.wet_gangrene = facts.wet_gangrene or view.evidence()
            facts.infections.append(Infection("wet-gangrene", view.reference, view.label, view.when, None))

        severity = _severity(valuesets, condition)
        kinds: list[str] = []
        for name, kind in _INFECTION_SETS:
            if kind not in kinds and _find(valuesets, name, view):
                kinds.append(kind)
        if (
            "abscess" in kinds
            and "deep-abscess" not in kinds
            and any(valuesets["deep-abscess"].matches_text(text) for text in view.texts)
        ):
            kinds.append("deep-abscess")
        for kind in kinds:
            facts.infections.append(Infection(kind, view.reference, view.label, view.when, severity))
        if "osteomyelitis" in kinds and facts.osteomyelitis is None:
            facts.osteomyelitis = view.evidence()
        if "deep-abscess" in kinds or "necrotizing" in kinds or _find(valuesets, "compartment-syndrome", view):
            facts.urgent_surgical.append(view.evidence())

        kinds = {kind for name, kind in _METABOLIC_SETS.items() if _find(valuesets, name, view)}
        if kinds:
            facts.metabolic.append(view.evidence())
            facts.metabolic_kinds |= kinds
        if any(_find(valuesets, name, view) for name in _DYSTROPHIC_SETS):
            facts.dystrophic.append(view.evidence())
        if _find(valuesets, "malignancy", view):
            facts.malignancy.append(view.evidence())
    return facts
