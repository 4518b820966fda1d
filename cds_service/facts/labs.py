"""The latest counting lab result per test, with units normalised and abnormal decided.

"Abnormal" is decided by, in order: the Observation's interpretation (H, HH, L, LL, A...), its
referenceRange, then the pathway's default range (thresholds.toml) on the canonical value. The one that
decided is kept in `decided_by`. The value is a valueQuantity, or a valueString holding one number
(">60", "< 5 mg/L"); a comparator decides only where it is unambiguous (an eGFR of ">60" is normal, a
"<90" is not known to be). A result with only a dataAbsentReason, or nothing at all, is no result. ESR, CRP and cultures look back `infection_lab_lookback_days` (30 d),
the other tests `lab_lookback_days` (90 d); both ends of a window are included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from cds_service.facts.access import codings, concept_texts, get, items, ref_of, reference_of, text_of
from cds_service.facts.dates import clinical_date, clinical_value, to_sort_key, within
from cds_service.facts.model import LabResult, LabTest
from cds_service.facts.recognise import display_of, lab_test_of
from cds_service.facts.text import affirmed_term, label_of
from cds_service.facts.units import CANONICAL_UNIT, normalise_unit, to_canonical
from cds_service.facts.values import Reading, compare, is_absent, number_of, reading
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.valuesets import ValueSets

__all__ = ["COUNTING_OBSERVATION_STATUSES", "INFECTION_TESTS", "interpret", "latest_labs", "lookback_for"]

COUNTING_OBSERVATION_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})
INFECTION_TESTS = frozenset({LabTest.ESR, LabTest.CRP, LabTest.CULTURE})
# HL7 v3 ObservationInterpretation codes -> (abnormal, direction)
_INTERPRETATION: dict[str, tuple[bool, str | None]] = {
    "H": (True, "high"),
    "HH": (True, "high"),
    "HU": (True, "high"),
    ">": (True, "high"),
    "L": (True, "low"),
    "LL": (True, "low"),
    "LU": (True, "low"),
    "<": (True, "low"),
    "A": (True, None),
    "AA": (True, None),
    "POS": (True, None),
    "DET": (True, None),
    "N": (False, None),
    "NEG": (False, None),
    "ND": (False, None),
}
_UCUM = "http://unitsofmeasure.org"


def lookback_for(test: LabTest, config: PathwayConfig) -> int:
    return config.infection_lab_lookback_days if test in INFECTION_TESTS else config.lab_lookback_days


def _unit(quantity: Any) -> str | None:
    code, unit = get(quantity, "code"), get(quantity, "unit")
    if code and (get(quantity, "system") in (None, _UCUM)):
        return str(code)
    return str(unit) if unit else (str(code) if code else None)


def _canonical(test: LabTest, quantity: Any) -> float | None:
    """A range bound (Quantity) in the test's canonical unit."""
    number = number_of(get(quantity, "value"))
    if number is None:
        return None
    # UCUM code first, then the printed unit (one of them is often a local spelling)
    for unit in (get(quantity, "code"), get(quantity, "unit")):
        converted = to_canonical(test, number, unit)
        if converted is not None:
            return converted
    return None


def _canonical_reading(test: LabTest, value: Reading, observation: Any) -> float | None:
    """The value in the test's canonical unit: by its unit, else (a Quantity's other spelling) by the
    printed unit; a value without any unit only for tests that have one unit (eGFR, ESR)."""
    quantity = get(observation, "valueQuantity")
    units = [value.unit] + ([get(quantity, "unit")] if quantity is not None else [])
    for unit in units:
        converted = to_canonical(test, value.number, unit) if unit else None
        if converted is not None:
            return converted
    if not any(units):
        return to_canonical(test, value.number, None)
    return None


def _from_interpretation(observation: Any) -> tuple[bool, str | None] | None:
    for concept in items(observation, "interpretation"):
        for _, code in codings(concept):
            if code in _INTERPRETATION:
                return _INTERPRETATION[code]
    return None


def _from_reference_range(test: LabTest, observation: Any, value: Reading) -> tuple[bool, str | None] | None:
    value_unit = normalise_unit(value.unit)
    for reference_range in items(observation, "referenceRange"):
        bounds = [get(reference_range, "low"), get(reference_range, "high")]
        if all(number_of(get(bound, "value")) is None for bound in bounds):
            continue
        units = {normalise_unit(_unit(bound)) for bound in bounds if number_of(get(bound, "value")) is not None}
        if units <= {None, value_unit}:
            # the range is in the value's unit (or says none): compare as given
            low, high = (number_of(get(bound, "value")) for bound in bounds)
            return compare(value, low, high)
        converted = _canonical_reading(test, value, observation)
        low, high = (None if number_of(get(bound, "value")) is None else _canonical(test, bound) for bound in bounds)
        if converted is None or (low is None and high is None):
            return None  # units that cannot be compared: let the next rule decide
        return compare(Reading(converted, None, value.comparator), low, high)
    return None


def interpret(test: LabTest, observation: Any, config: PathwayConfig) -> tuple[bool | None, str | None, str | None]:
    """(abnormal, direction, decided_by) for a numeric result."""
    found = _from_interpretation(observation)
    if found is not None:
        return found[0], found[1], "interpretation"
    value = reading(observation)
    if value is None:
        return None, None, None
    found = _from_reference_range(test, observation, value)
    if found is not None:
        return found[0], found[1], "referenceRange"
    default = config.range_for(test)
    canonical = _canonical_reading(test, value, observation)
    if default is not None and canonical is not None:
        found = compare(Reading(canonical, None, value.comparator), default.low, default.high)
        if found is not None:
            return found[0], found[1], "default range"
    return None, None, None


# Interpretation codes that say a culture grew something, or that it did not.
_CULTURE_POSITIVE = frozenset({"POS", "DET", "A", "AA"})
_CULTURE_NEGATIVE = frozenset({"NEG", "ND", "N"})


def _culture_values(observation: Any) -> list[tuple[list[tuple[str | None, str | None]], list[str]]]:
    """(codings, texts) of each value a culture carries: its value[x] and each component's value."""
    values = []
    for holder in (observation, *items(observation, "component")):
        concept = get(holder, "valueCodeableConcept")
        texts = concept_texts(concept)
        value_string = text_of(get(holder, "valueString"))
        if value_string is not None and value_string.strip():
            texts.append(value_string)
        pairs = list(codings(concept))
        if pairs or texts:
            values.append((pairs, texts))
    return values


def _value_growth(pairs: list[tuple[str | None, str | None]], texts: list[str], valuesets: ValueSets) -> bool | None:
    """True when one value says an organism grew, False when it says nothing (pathogenic) grew, None when
    it is pending, preliminary or unreadable. Positive must be positive: a coded organism, or words naming
    a pathogen or growth; "NG", "NGTD", "no growth at 48h", skin or mixed flora and "in progress" are not."""
    if any(valuesets["culture-pending"].matches_text(text) for text in texts):
        return None
    organism = valuesets["culture-organism"].member(pairs) is not None
    if any(affirmed_term(valuesets["culture-pathogen"], text) for text in texts):
        return True
    negative = any(valuesets["culture-negative"].matches_text(text) for text in texts)
    if organism and not negative:
        return True
    if negative or any(valuesets["culture-flora"].matches_text(text) for text in texts):
        return False
    if any(affirmed_term(valuesets["culture-growth"], text) for text in texts):
        return True
    return None


def _culture_positive(
    observation: Any, valuesets: ValueSets, member_of: Callable[[str], Any] | None = None
) -> tuple[bool | None, str | None]:
    """(positive, decided_by) of a culture: "interpretation", "result" (its value or components),
    "members" (the organism Observations of hasMember), or (None, "preliminary") for a preliminary one."""
    if get(observation, "status") == "preliminary":
        return None, "preliminary"  # a preliminary culture is not a positive one
    for concept in items(observation, "interpretation"):
        for _, code in codings(concept):
            if code in _CULTURE_POSITIVE:
                return True, "interpretation"
            if code in _CULTURE_NEGATIVE:
                return False, "interpretation"
    found: bool | None = None
    for pairs, texts in _culture_values(observation):
        growth = _value_growth(pairs, texts, valuesets)
        if growth:
            return True, "result"
        found = False if growth is False else found
    if found is False:
        return False, "result"
    # A panel: the organisms are member Observations (hasMember), each a value of its own.
    if member_of is not None:
        for reference in (ref_of(x) for x in items(observation, "hasMember")):
            member = member_of(reference) if reference else None
            if member is None or get(member, "status") not in ("final", "amended", "corrected"):
                continue
            for pairs, texts in _culture_values(member):
                if _value_growth(pairs, texts, valuesets):
                    return True, "members"
    return None, None


def _original(observation: Any) -> str:
    value = reading(observation)
    quantity = get(observation, "valueQuantity")
    if value is not None and quantity is not None:
        unit = get(quantity, "unit") or get(quantity, "code") or ""
        return f"{value.comparator or ''}{get(quantity, 'value')} {unit}".strip()
    for text in concept_texts(get(observation, "valueCodeableConcept")):
        return text
    value_string = text_of(get(observation, "valueString"))
    return " ".join(value_string.split()) if value_string is not None and value_string.strip() else "no value"


def _result(
    test: LabTest,
    observation: Any,
    config: PathwayConfig,
    valuesets: ValueSets,
    member_of: Callable[[str], Any] | None = None,
) -> LabResult:
    reference = f"Observation/{get(observation, 'id')}"
    when = clinical_date(observation, "Observation")
    label = label_of(get(observation, "code")) or display_of([get(observation, "code")], valuesets) or test.value
    if test is LabTest.CULTURE:
        positive, decided_by = _culture_positive(observation, valuesets, member_of)
        return LabResult(
            test,
            reference,
            when,
            None,
            None,
            _original(observation),
            positive,
            decided_by=decided_by,
            positive=positive,
            label=label,
        )
    value = reading(observation)
    canonical = _canonical_reading(test, value, observation) if value is not None else None
    abnormal, direction, decided_by = interpret(test, observation, config)
    return LabResult(
        test=test,
        reference=reference,
        when=when,
        value=None if canonical is None else round(canonical, 4),
        unit=CANONICAL_UNIT.get(test) if canonical is not None else None,
        original=_original(observation),
        abnormal=abnormal,
        direction=direction,
        decided_by=decided_by,
        label=label,
        comparator=value.comparator if value is not None and canonical is not None else None,
    )


def latest_labs(
    observations: tuple[Any, ...], *, today: date, config: PathwayConfig, valuesets: ValueSets
) -> dict[LabTest, LabResult]:
    latest: dict[LabTest, tuple[str, Any]] = {}
    for observation in observations:
        if get(observation, "status") not in COUNTING_OBSERVATION_STATUSES or is_absent(observation):
            continue  # a result "not performed" (dataAbsentReason only) is not a result
        test = lab_test_of(observation, valuesets)
        if test is None:
            continue
        if not within(clinical_date(observation, "Observation"), today, lookback_for(test, config)):
            continue
        key = to_sort_key(clinical_value(observation, "Observation"))
        if test not in latest or key > latest[test][0]:
            latest[test] = (key, observation)
    members: dict[str, Any] | None = None

    def member_of(reference: str) -> Any:
        # Built only for a culture panel with hasMember: most calls never need it.
        nonlocal members
        if members is None:
            members = {reference_of(o): o for o in observations}
        return members.get(reference)

    return {
        test: _result(test, observation, config, valuesets, member_of) for test, (_, observation) in latest.items()
    }
