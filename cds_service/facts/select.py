"""Cheap JSON checks that pick, from everything gathered, the resources the pathway can use.

Validation with the R4B models costs far more than reading JSON (~0.1 ms a resource), and a prefetch can
hold hundreds of resources the pathway never reads, so selection comes first: right resourceType, not
entered-in-error, recognised by a value set (code or text), and for labs only the results
that could be the latest of their test.

`select` reads each resource once (status, code, JSON types) and remembers the lab test it found, so the
latest results are picked without recognising a result twice; most resources are decided by a dictionary
lookup of their codings, and text is read only where codes did not decide. Lab results come back as
candidates to validate in turn (`Candidates`): the latest result of a test decides, so an older one is
validated only when the latest is not valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cds_service.facts.access import codings, concept_texts, concepts, status_code, text, watch, watched
from cds_service.facts.dates import clinical_value, to_sort_key
from cds_service.facts.model import LabTest
from cds_service.facts.recognise import (
    CONDITION_SETS,
    IMAGING_TEXT_SETS,
    LAB_SETS,
    imaging_kind,
    imaging_texts,
    in_category,
    is_imaging_category,
    lab_code_table,
    lab_test_and_coding,
)
from cds_service.facts.values import is_absent
from cds_service.guideline.valuesets import ValueSet, ValueSets, load_valuesets, normalise_text, system_uri

__all__ = [
    "LAB_CANDIDATE_DATES",
    "SELECTED_TYPES",
    "Rejected",
    "array_problem",
    "Candidates",
    "is_relevant",
    "select",
    "skip_reason",
]

JSON = dict[str, Any]

SELECTED_TYPES = ("Condition", "Observation", "DiagnosticReport", "ImagingStudy", "ServiceRequest", "Procedure")
# Results on this many distinct latest dates are kept per test: the newest may still fail validation.
LAB_CANDIDATE_DATES = 2
_DEAD_STATUSES = {"entered-in-error", "cancelled", "revoked"}
_LOINC = system_uri("loinc")
_OBSERVATION_STATUSES = {"final", "amended", "corrected", "preliminary"}
_REPORT_STATUSES = {"final", "amended", "corrected", "appended", "preliminary", "partial"}
_ACTIVE_ORDER_STATUSES = {"active"}
_DONE_ORDER_STATUSES = {"completed"}
_PROCEDURE_STATUSES = {"completed", "in-progress"}
_ORDER_SETS = (
    *LAB_SETS.values(),
    "referral",
    "follow-up",
    "debridement",
    "incision-drainage",
    "probe-to-bone",
)
_PROCEDURE_SETS = ("debridement", "incision-drainage", "probe-to-bone")
# Codes that make any Observation / DiagnosticReport an imaging one worth reading.
_IMAGING_CODE_SETS = (
    "imaging-xr-foot",
    "imaging-mr-foot",
    "imaging-ct-foot",
    "imaging-us-foot",
    "imaging-lower-extremity",
    "imaging-calcification-finding",
)


# Top-level 0..* fields selection reads. The readers wrap a lone object (as models never send one); in JSON
# it is a forbidden type, and reading it leniently could silently change what the resource is.
_ARRAYS = {
    "Observation": ("category", "note"),
    "DiagnosticReport": ("category", "conclusionCode", "note"),
    "ImagingStudy": ("modality", "series", "procedureCode", "note"),
    "ServiceRequest": ("category", "bodySite"),
    "Procedure": ("bodySite",),
}


def array_problem(resource: JSON, resource_type: str) -> str | None:
    """ "'category' is a JSON object, not an array" for a 0..* field selection reads; None when fine."""
    for name in _ARRAYS.get(resource_type, ()):
        value = resource.get(name)
        if value is not None and type(value) is not list:
            return f"{name!r} is not a JSON array"
    return None


def skip_reason(resource: JSON, resource_type: str, patient_id: str) -> str | None:
    """Why a resource cannot count at all (None when it may): its status. (Whose data it is was decided
    in gathering: only the context patient's resources reach this step.)"""
    status = text(resource, "status")
    if status in _DEAD_STATUSES:
        return f"status {status}"
    if resource_type == "Condition" and status_code(resource.get("verificationStatus")) == "entered-in-error":
        return "verificationStatus entered-in-error"
    return None


@dataclass(frozen=True, slots=True)
class _Index:
    """Union of the codes and (normalised) text terms of a group of value sets: one lookup instead of thirty."""

    codings: frozenset[tuple[str, str]]
    terms: re.Pattern[str]  # one alternation of every term, on normalised (space-padded) text
    # Value sets with ICD-10 code families (match = "prefix"): E11.65 is diabetes without being listed.
    families: tuple[ValueSet, ...] = ()

    def matches(self, concept_list: list[Any]) -> bool:
        pairs = list(codings(*concept_list))
        if any((system, code) in self.codings for system, code in pairs):
            return True
        if any(value_set.member(pairs) is not None for value_set in self.families):
            return True
        return any(self.matches_text(text) for text in concept_texts(*concept_list))

    def matches_text(self, text: str) -> bool:
        return self.terms.search(normalise_text(text)) is not None


_INDEXES: dict[tuple[int, tuple[str, ...]], _Index] = {}


def _index(valuesets: ValueSets, names: tuple[str, ...]) -> _Index:
    key = (id(valuesets), names)
    index = _INDEXES.get(key)
    if index is None:
        sets = [valuesets[name] for name in names]
        terms = sorted(
            {normalise_text(t).strip() for value_set in sets for t in value_set.text_terms}, key=len, reverse=True
        )
        index = _Index(
            codings=frozenset(c for value_set in sets for c in value_set.codings),
            # never matches when there are no terms
            terms=re.compile(" (?:" + "|".join(re.escape(t) for t in terms) + ") " if terms else "(?!)"),
            families=tuple(value_set for value_set in sets if any(m.prefix for m in value_set.members)),
        )
        _INDEXES[key] = index
    return index


def is_relevant(resource: JSON, resource_type: str, valuesets: ValueSets | None = None) -> bool:
    """Whether the pathway reads this resource (its code or text is recognised by a value set).

    Only records a prefetch key can bring count (`services.prefetch_keys`; a test checks both agree): a lab
    result recognised by its text needs the `laboratory` category, an imaging result the `imaging` one, a
    probe-to-bone result the `exam`/`procedure` one, and a report an imaging code or an imaging category.
    """
    return _relevance(resource, resource_type, valuesets or load_valuesets())[0]


_NOT_READ: tuple[bool, LabTest | None] = (False, None)


def _relevance(resource: JSON, resource_type: str, valuesets: ValueSets) -> tuple[bool, LabTest | None]:
    """(whether the pathway reads it, the lab test of a lab result it reads)."""
    status = text(resource, "status")
    code = [resource.get("code")]
    if resource_type == "Condition":
        return _index(valuesets, CONDITION_SETS).matches(code), None
    if resource_type == "Observation":
        if status not in _OBSERVATION_STATUSES:
            return _NOT_READ
        test, coded = lab_test_and_coding(resource, valuesets)
        if test is not None and (coded or in_category(resource, "observation-laboratory", valuesets)):
            return True, test
        if is_imaging_category(resource, valuesets) and _imaging_relevant(resource, resource_type, valuesets):
            return True, None
        exam = in_category(resource, "observation-exam", valuesets)
        return exam and _index(valuesets, ("probe-to-bone",)).matches(code), None
    if resource_type == "DiagnosticReport":
        if status not in _REPORT_STATUSES:
            return _NOT_READ
        searched = is_imaging_category(resource, valuesets) or any(
            pair in _report_codes(valuesets) for pair in codings(*code)
        )
        return searched and _imaging_relevant(resource, resource_type, valuesets), None
    if resource_type == "ImagingStudy":
        return imaging_kind(resource, resource_type, valuesets) is not None, None
    if resource_type == "ServiceRequest":
        if status in _DONE_ORDER_STATUSES:  # a completed imaging order is a study done (facts/imaging.py)
            return imaging_kind(resource, resource_type, valuesets) is not None, None
        if status not in _ACTIVE_ORDER_STATUSES:
            return _NOT_READ
        relevant = (
            _index(valuesets, _ORDER_SETS).matches(code) or imaging_kind(resource, resource_type, valuesets) is not None
        )
        return relevant, None
    if resource_type == "Procedure":
        if status not in _PROCEDURE_STATUSES:
            return _NOT_READ
        relevant = (
            _index(valuesets, _PROCEDURE_SETS).matches(code)
            or imaging_kind(resource, resource_type, valuesets) is not None
        )
        return relevant, None
    return _NOT_READ


@dataclass(frozen=True, slots=True)
class Rejected:
    """A resource selection read and must leave out: a field it reads has a JSON type FHIR forbids."""

    resource: JSON
    problem: str  # "'status' is a JSON array, not a string"


@dataclass(frozen=True, slots=True)
class Candidates:
    """What the pathway reads for one thing, as groups of resources to validate in turn: the valid resources
    of the first group that has any are used, and later groups are never validated. One group of one
    resource for most; for a lab test, its results on each of its latest `LAB_CANDIDATE_DATES` dates,
    newest first (only the latest result decides: older ones are validated only if it is invalid)."""

    groups: tuple[tuple[JSON, ...], ...]


def select(
    resources: list[JSON], resource_type: str, valuesets: ValueSets
) -> tuple[list[Candidates], list[Rejected]]:
    """(what the pathway reads of the resources of one type, in order; those to leave out as data issues).

    One read of each resource. Lab results are grouped by test and day with the tests found here, after
    the other resources of the type."""
    chosen: list[Candidates] = []
    labs: dict[LabTest, dict[str, list[JSON]]] = {}  # test -> day -> results, in order
    rejected: list[Rejected] = []
    lab_codes = lab_code_table(valuesets) if resource_type == "Observation" else None
    categories = _read_category_codes(valuesets) if lab_codes is not None else frozenset()
    for resource in resources:
        if lab_codes is not None:
            test = _usual_observation(resource, lab_codes, categories)
            if test is _NOT_PATHWAYS:
                continue
            if test is not None:  # most of a chart: decided without the general reading below
                if not is_absent(resource):
                    labs.setdefault(test, {}).setdefault(_day_key(resource), []).append(resource)
                continue
        token = watch()
        if skip_reason(resource, resource_type, "") is None:
            relevant, test = _relevance(resource, resource_type, valuesets)
        else:
            relevant, test = _NOT_READ
        met = watched(token) or array_problem(resource, resource_type)
        if met is not None:
            # A field selection reads has a JSON type FHIR forbids: never guess what it meant.
            rejected.append(Rejected(resource, met))
        elif not relevant:
            continue
        elif test is None:
            chosen.append(Candidates(((resource,),)))
        elif not is_absent(resource):  # "not performed" must not push a real result out of the latest dates
            labs.setdefault(test, {}).setdefault(_day_key(resource), []).append(resource)
    for days in labs.values():
        latest = sorted(days, reverse=True)[:LAB_CANDIDATE_DATES]
        chosen.append(Candidates(tuple(tuple(days[day]) for day in latest)))
    return chosen, rejected


_REPORT_CODES: dict[int, frozenset[tuple[str, str]]] = {}


def _report_codes(valuesets: ValueSets) -> frozenset[tuple[str, str]]:
    """The codes the code-filtered imaging-report prefetch asks for."""
    found = _REPORT_CODES.get(id(valuesets))
    if found is None:
        found = frozenset(c for name in valuesets.prefetch["DiagnosticReport"] for c in valuesets[name].codings)
        _REPORT_CODES[id(valuesets)] = found
    return found


def _imaging_relevant(resource: JSON, resource_type: str, valuesets: ValueSets) -> bool:
    finding_codes = _index(valuesets, _IMAGING_CODE_SETS)
    coded = concepts(resource, "code", "valueCodeableConcept", "conclusionCode")
    if any(pair in finding_codes.codings for pair in codings(*coded)):
        return True
    if imaging_kind(resource, resource_type, valuesets) is not None:
        return True
    index = _index(valuesets, IMAGING_TEXT_SETS)
    return any(index.matches_text(words) for words in imaging_texts(resource))


_NOT_PATHWAYS = object()  # `_usual_observation`: decided, the pathway does not read it
# (A laboratory category matters only for a result named by its words, never when a LOINC code says what it is.)
_READ_CATEGORIES = ("observation-imaging", "observation-exam")


def _read_category_codes(valuesets: ValueSets) -> frozenset[str]:
    """The codes of the Observation categories that can make a result one the pathway reads."""
    return frozenset(code for name in _READ_CATEGORIES for code in valuesets.categories[name].codes)


def _usual_observation(
    resource: JSON, lab_codes: dict[tuple[str, str], LabTest], read_categories: frozenset[str]
) -> LabTest | object | None:
    """An Observation in its usual shape, decided by one read: its LabTest (a counting status and a coding of
    the pathway's lab codes), or `_NOT_PATHWAYS` (a status that does not count; or LOINC-coded for another
    test, with no category the pathway reads). None when it is anything else: the general reading then
    decides, noting forbidden JSON types. Decides as `skip_reason` and `_relevance` would, and only when
    every field they would read has the JSON type FHIR gives it (so there is nothing to report)."""
    for name in _ARRAYS["Observation"]:  # array_problem's fields for an Observation
        value = resource.get(name)
        if value is not None and type(value) is not list:
            return None
    status = resource.get("status")
    if type(status) is not str:
        return None
    if status not in _OBSERVATION_STATUSES:
        return _NOT_PATHWAYS  # dead or not yet final: only the status was read
    code = resource.get("code")
    if type(code) is not dict:
        return None
    coding = code.get("coding")
    if type(coding) is not list:
        return None
    loinc = False
    for item in coding:
        if type(item) is not dict:
            return None
        system, value = item.get("system"), item.get("code")
        if type(system) is str and type(value) is str:
            test = lab_codes.get((system, value))
            if test is not None:
                return test  # a coded test needs no category
            loinc = loinc or system == _LOINC
        elif not ((system is None or type(system) is str) and (value is None or type(value) is str)):
            return None
    if not loinc:
        return None  # no LOINC coding: its words may name a test (the text fallback)
    for category in resource.get("category") or ():
        if type(category) is not dict:
            return None
        found = category.get("coding")
        if found is None:
            continue
        if type(found) is not list:
            return None
        for item in found:
            if type(item) is not dict:
                return None
            system, value = item.get("system"), item.get("code")
            if not ((system is None or type(system) is str) and (value is None or type(value) is str)):
                return None
            if value in read_categories:
                return None  # an imaging or exam result: the general reading decides
    return _NOT_PATHWAYS


def _day_key(observation: JSON) -> str:
    """The result's day, in UTC where its time has a zone (`to_sort_key`), for grouping by date."""
    value = observation.get("effectiveDateTime")
    if type(value) is str and len(value) > 10 and value.endswith("Z"):
        return value[:10]  # most results: already UTC, no parse needed
    return to_sort_key(clinical_value(observation, "Observation"))[:10]
