"""A lab result's value as the rules can read it: a number, its unit and its comparator, from a
`valueQuantity` or from a `valueString` such as ">60" or "< 5 mg/L"; and what a comparator lets a range
decide ("an eGFR of >60 is normal", "a CRP of <5 is normal", "<90" against a low bound of 60 is unknown).

Works on raw JSON (selection) and on R4B models (facts) alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cds_service.facts.access import get, items, text

__all__ = ["COMPARATORS", "Reading", "compare", "has_result", "is_absent", "number_of", "reading"]

COMPARATORS = frozenset({"<", "<=", ">=", ">"})
# "12.5", "> 60", "<=0.5 mg/L", "≥ 90 mL/min/1.73m2": one number, an optional comparator, an optional unit.
# A decimal comma ("9,6") or anything else is not read: "where unambiguous" only.
_STRING_VALUE = re.compile(r"^\s*(<=|>=|≤|≥|<|>)?\s*(\d+(?:\.\d+)?)\s*([A-Za-zµμ%/\[{][^<>=]*?)?\s*$")
_UNICODE = {"≤": "<=", "≥": ">="}


@dataclass(frozen=True, slots=True)
class Reading:
    number: float
    unit: str | None  # as written (UCUM code first for a Quantity)
    comparator: str | None  # "<" | "<=" | ">=" | ">" | None for an exact value


def number_of(value: Any) -> float | None:
    """A FHIR decimal (Decimal, int or float, never a bool) as a float; None for anything else."""
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return float(value)
    return None


def reading(observation: Any) -> Reading | None:
    """The numeric value of a result, from valueQuantity, else from a valueString that is one number."""
    quantity = get(observation, "valueQuantity")
    number = number_of(get(quantity, "value"))
    if number is not None:
        comparator = text(quantity, "comparator")
        unit = text(quantity, "code") if text(quantity, "system") in (None, "http://unitsofmeasure.org") else None
        return Reading(number, unit or text(quantity, "unit"), comparator if comparator in COMPARATORS else None)
    value = text(observation, "valueString")
    if value is None:
        return None
    match = _STRING_VALUE.match(value)
    if match is None:
        return None
    comparator, digits, unit = match.groups()
    return Reading(float(digits), unit or None, _UNICODE.get(comparator, comparator) if comparator else None)


def is_absent(observation: Any) -> bool:
    """A result the lab says it does not have: a dataAbsentReason ("not performed", "error") and neither a
    value nor an interpretation. It neither counts as done nor hides an older result."""
    return get(observation, "dataAbsentReason") is not None and not has_result(observation)


def has_result(observation: Any) -> bool:
    """Whether a result says anything: a value of any kind, or an interpretation."""
    if number_of(get(get(observation, "valueQuantity"), "value")) is not None:
        return True
    if get(observation, "valueCodeableConcept") is not None or text(observation, "valueString"):
        return True
    return bool(items(observation, "interpretation"))


def compare(value: Reading, low: float | None, high: float | None) -> tuple[bool, str | None] | None:
    """(abnormal, "low" | "high" | None) of a value against an inclusive range, or None when a comparator
    leaves it open ("<90" against a low bound of 60). `value.number` is in the range's unit."""
    number, comparator = value.number, value.comparator
    if comparator in ("<", "<="):  # the true value is below `number` (or equal, for "<=")
        if low is not None:
            if number < low or (comparator == "<" and number == low):
                return True, "low"
            return None  # it may lie on either side of the lower bound
        return (False, None) if high is None or number <= high else None
    if comparator in (">", ">="):  # the true value is above `number` (or equal, for ">=")
        if high is not None:
            if number > high or (comparator == ">" and number == high):
                return True, "high"
            return None
        return (False, None) if low is None or number >= low else None
    if low is not None and number < low:
        return True, "low"
    if high is not None and number > high:
        return True, "high"
    return False, None
