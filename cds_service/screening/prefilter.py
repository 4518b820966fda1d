"""What a line can be known to hold without parsing it: its resource type, its patient, and whether it could
put the patient in the pathway.

The pathway reads nothing for a patient who is not in it (`pathway.evaluate`: no in-pathway problem, no
card), and only two things make an in-pathway problem at patient-view (facts/conditions.py `_ENTRY_SETS`,
facts/imaging.py `_finding`): a coding of an entry value set, or one of their text terms. `ENTRY_MARKER`
matches, in the raw bytes of a line, a SUPERSET of both:
  - every code of those value sets, as a JSON string (`"12747003"`);
  - for every text term, one of its words, case-insensitively and anywhere (a term found as whole words
    after `normalise_text` has each of its words among the line's letters);
  - anything that could hide those from a byte search: a JSON `\\u` escape or any non-ASCII byte
    (`str.lower()` folds some non-ASCII letters to ASCII ones).
A patient none of whose lines matches is outside the pathway whatever else the lines say, so the screen
counts them without parsing a line; every other patient is parsed and judged in full. Superset by
construction; tests/test_screening_equality.py proves the result equal to patient-view's for every
fixture patient.
"""

from __future__ import annotations

import re
from functools import cache

from cds_service.guideline.valuesets import load_valuesets
from cds_service.services import prefetch_templates

__all__ = [
    "ENTRY_SETS",
    "entry_marker",
    "patient_key",
    "queried_types",
    "resource_type_of",
]

# The value sets whose match makes an in-pathway problem at patient-view (checked against
# facts.conditions._ENTRY_SETS and facts.imaging by tests/test_screening_prefilter.py).
ENTRY_SETS = (
    "calcification-foot-site",
    "calcification-concept",
    "soft-tissue-mass-foot",
    "soft-tissue-mass",
    "imaging-calcification-finding",
)

_TYPE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]{1,64})"')
# FHIR ids: [A-Za-z0-9\-\.]{1,64}; a reference relative (Patient/x) or absolute (.../Patient/x).
_SUBJECT = re.compile(
    rb'"(?:subject|patient)"\s*:\s*\{[^{}]*?"reference"\s*:\s*"(?:[^"]*/)?Patient/([A-Za-z0-9\-.]{1,64})"'
)
_ID_CHARS = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def resource_type_of(line: bytes) -> str | None:
    found = _TYPE.search(line)
    return found.group(1).decode("ascii") if found else None


def patient_key(line: bytes) -> str | None:
    """The id of the patient a (non-Patient) resource line is about, by byte search: its `subject` or
    `patient` reference. None when the search finds none (the caller parses the line to be sure)."""
    found = _SUBJECT.search(line)
    return found.group(1).decode("ascii") if found else None


def valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_CHARS.match(value) is not None


@cache
def queried_types() -> frozenset[str]:
    """The resource types some prefetch query of the service reads; lines of any other type cannot matter."""
    types = set()
    for _, template in prefetch_templates():
        path = template.split("?", 1)[0]
        types.add(path.split("/", 1)[0])
    return frozenset(types)


def _words(term: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", term.lower()) if w]


@cache
def entry_marker() -> re.Pattern[bytes]:
    valuesets = load_valuesets()
    codes: set[str] = set()
    words: set[str] = set()
    for name in ENTRY_SETS:
        value_set = valuesets[name]
        codes |= set(value_set.codes)
        for term in value_set.text_terms:
            parts = _words(term)
            if parts:
                words.add(max(parts, key=len))  # one word suffices; the longest is the most selective
    # A word inside another ("calcific" in "calcification") is already found by the shorter one.
    words = {w for w in words if not any(o != w and o in w for o in words)}
    code_part = b"|".join(re.escape(c.encode()) for c in sorted(codes))
    word_part = b"|".join(re.escape(w.encode()) for w in sorted(words))
    return re.compile(b'"(?:' + code_part + b')"|(?i:' + word_part + rb")|\\u|[\x80-\xff]")
