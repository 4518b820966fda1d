"""Uniform reads of FHIR data, whether raw JSON (selection) or a validated R4B model (facts).

Selection runs on JSON before validation and facts run on models after it; reading both through these
helpers keeps the two steps' idea of "the codes of this concept" identical.

Raw JSON may carry types FHIR forbids (`"status": []`, `"code": []`, `"system": []`): every helper here is
type-safe. A value of the wrong JSON type reads as absent, never raises, and never reaches a comparison or
a hash as a list or an object. While selection reads a resource (`watch` ... `watched`), the helpers note
the first such value they meet, at no cost when there is none; selection then leaves the resource out and
`json_type_problem` names the field for the data issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar, Token
from typing import Any

from cds_service.protocol.json_body import json_type_name

__all__ = [
    "MAX_TEXT_CHARS",
    "capped",
    "codings",
    "concept_texts",
    "concepts",
    "get",
    "items",
    "json_type_problem",
    "ref_of",
    "reference_of",
    "resource_type_of",
    "status_code",
    "strings",
    "text",
    "text_of",
    "watch",
    "watched",
]

# The most of one human text field (a display, a problem's or a study's name, a conclusion, a note) the
# facts step reads. Clinicians' problem names and report conclusions are a few hundred characters; a
# multi-megabyte one (seen: 3.8 MB in one Condition.code.text) would otherwise be lower-cased, split and
# searched for every term of every value set. Local default.
MAX_TEXT_CHARS = 4096
_WORD_END = re.compile(r"[A-Za-z0-9]+$")  # words as text matching sees them (valuesets.normalise_text)

# JSON values that are never a FHIR complex element: reading a field of one gives nothing.
_SCALARS = (str, bytes, int, float, bool, list, tuple)
# The first value of a forbidden JSON type met while a resource is watched (selection reads it).
_MET: ContextVar[str | None] = ContextVar("forbidden_json_type", default=None)


def watch() -> Token[str | None]:
    """Start noting forbidden JSON types (selection of one resource)."""
    return _MET.set(None)


def watched(token: Token[str | None]) -> str | None:
    """Stop noting; what was met, e.g. "'status' is a JSON array, not a string", or None."""
    met = _MET.get()
    _MET.reset(token)
    return met


def _met(problem: str) -> None:
    if _MET.get() is None:
        _MET.set(problem)


def get(obj: Any, name: str) -> Any:
    """`obj.name` of a JSON object or a model; None for anything else (a string, a number, a list)."""
    if type(obj) is dict:  # the hot path: raw JSON
        return obj.get(name)
    if isinstance(obj, dict):
        return obj.get(name)
    if obj is None:
        return None
    if isinstance(obj, _SCALARS):
        _met(f"a JSON {json_type_name(obj)} where an object with {name!r} belongs")
        return None
    return getattr(obj, name, None)


def text(obj: Any, name: str) -> str | None:
    """`obj.name` when it is a string (FHIR code, string, uri, dateTime...); None otherwise."""
    if type(obj) is dict:  # the hot path: raw JSON of the right type
        value = obj.get(name)
        if value is None or type(value) is str:
            return value
    value = get(obj, name)
    if value is None or type(value) is str:
        return value
    if isinstance(value, list | dict | int | float):
        _met(f"{name!r} is a JSON {json_type_name(value)}, not a string")
    return value if isinstance(value, str) else None


def items(obj: Any, name: str) -> list[Any]:
    """`obj.name` as a list (FHIR 0..* fields; a lone value is wrapped)."""
    value = obj.get(name) if type(obj) is dict else get(obj, name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def concepts(obj: Any, *names: str) -> list[Any]:
    """The CodeableConcepts under `names` of `obj` (each 0..1 or 0..*)."""
    found: list[Any] = []
    for name in names:
        found.extend(items(obj, name))
    return found


def codings(*concept_list: Any) -> Iterator[tuple[str | None, str | None]]:
    """(system, code) of every Coding of the given CodeableConcepts (a bare Coding is accepted too).

    A system or code that is not a string reads as None."""
    for concept in concept_list:
        if concept is None:
            continue
        found = get(concept, "coding")
        if found is None and get(concept, "code") is not None:
            yield text(concept, "system"), text(concept, "code")
            continue
        if found is not None and not isinstance(found, list | tuple):
            _met(f"'coding' is a JSON {json_type_name(found)}, not an array")
        # `items(concept, "coding")` on the value read above (a lone value is wrapped)
        for coding in found if isinstance(found, list) else () if found is None else (found,):
            if type(coding) is dict:  # the hot path: both strings (or absent), read without the checks
                system, code = coding.get("system"), coding.get("code")
                if (system is None or type(system) is str) and (code is None or type(code) is str):
                    yield system, code
                    continue
            yield text(coding, "system"), text(coding, "code")


def strings(*values: Any) -> list[str]:
    """The values that are non-empty strings (FHIR text fields may be absent, empty or of the wrong type),
    each cut to its first `MAX_TEXT_CHARS` characters (`capped`)."""
    found = []
    for value in values:
        if type(value) is str:
            if value:
                found.append(value if len(value) <= MAX_TEXT_CHARS else capped(value))
        elif isinstance(value, list | dict | int | float):
            _met(f"a JSON {json_type_name(value)} where a string belongs")
    return found


def capped(value: str) -> str:
    """`value`, or its first `MAX_TEXT_CHARS` characters less a word the cut went through (a cut word could
    match a shorter term: "calcification" cut to "calcific")."""
    if len(value) <= MAX_TEXT_CHARS:
        return value
    head = value[:MAX_TEXT_CHARS]
    if _WORD_END.search(value[MAX_TEXT_CHARS]):
        head = _WORD_END.sub("", head)
    return head


def text_of(value: Any) -> str | None:
    """A human text field read as `strings` reads it (capped); None when it is not a non-empty string."""
    found = strings(value)
    return found[0] if found else None


def concept_texts(*concept_list: Any) -> list[str]:
    """`text` and every `coding.display` of the given CodeableConcepts (or Codings)."""
    texts: list[str] = []
    for concept in concept_list:
        if concept is None:
            continue
        texts += strings(get(concept, "text"), get(concept, "display"))
        texts += strings(*(get(coding, "display") for coding in items(concept, "coding")))
    return texts


def status_code(concept: Any) -> str | None:
    """The first code of a status CodeableConcept (Condition.clinicalStatus / verificationStatus)."""
    for _, code in codings(concept):
        if code:
            return code
    return None


def reference_of(resource: Any) -> str:
    """`Type/id` of a resource (JSON or model)."""
    return f"{resource_type_of(resource)}/{text(resource, 'id') or get(resource, 'id') or '?'}"


def resource_type_of(resource: Any) -> str:
    if isinstance(resource, dict):
        return str(resource.get("resourceType"))
    return str(resource.get_resource_type())


def ref_of(reference: Any) -> str | None:
    """The `reference` string of a Reference (JSON or model)."""
    return text(reference, "reference")


# --- JSON types of the fields selection reads ---------------------------------------------------------
# Kinds: "str" a JSON string; a data type name below; "[kind]" a FHIR 0..* field, which JSON must
# carry as an array (as the R4B models require).
_DATATYPES: dict[str, dict[str, str]] = {
    "Coding": {"system": "str", "code": "str", "display": "str", "version": "str"},
    "CodeableConcept": {"coding": "[Coding]", "text": "str"},
    "Reference": {"reference": "str", "display": "str", "type": "str"},
    "Period": {"start": "str", "end": "str"},
    "Annotation": {"text": "str"},
    "Series": {"modality": "Coding", "bodySite": "Coding", "description": "str"},
}
# Only the fields selection reads (skip_reason, is_relevant, select): what only the facts step
# reads is validated with the R4B models first, and a resource selection drops is never validated.
_DATES = {
    "effectiveDateTime": "str", "effectiveInstant": "str", "effectivePeriod": "Period", "issued": "str",
}
_COMMON = {"id": "str", "status": "str", "subject": "Reference", "patient": "Reference", "note": "[Annotation]"}
_FIELDS: dict[str, dict[str, str]] = {
    "Condition": {"code": "CodeableConcept", "verificationStatus": "CodeableConcept"},
    "Observation": {
        "code": "CodeableConcept", "category": "[CodeableConcept]", "valueCodeableConcept": "CodeableConcept",
        "valueString": "str", "bodySite": "CodeableConcept", **_DATES,
    },
    "DiagnosticReport": {
        "code": "CodeableConcept", "category": "[CodeableConcept]", "conclusion": "str",
        "conclusionCode": "[CodeableConcept]", **_DATES,
    },
    "ImagingStudy": {
        "modality": "[Coding]", "series": "[Series]", "procedureCode": "[CodeableConcept]", "description": "str",
        "bodySite": "[CodeableConcept]",
    },
    "ServiceRequest": {"code": "CodeableConcept", "category": "[CodeableConcept]", "bodySite": "[CodeableConcept]"},
    "Procedure": {"code": "CodeableConcept", "bodySite": "[CodeableConcept]"},
}


# (field, kind) pairs per type, common fields first: built once.
_CHECKED = {resource_type: (*_COMMON.items(), *fields.items()) for resource_type, fields in _FIELDS.items()}


def _problem(value: Any, kind: str, path: str) -> str | None:
    if kind.startswith("["):
        inner = kind[1:-1]
        if not isinstance(value, list):
            return f"{path} is a JSON {json_type_name(value)}, not an array"
        for index, item in enumerate(value):
            found = _problem(item, inner, f"{path}[{index}]")
            if found:
                return found
        return None
    if kind == "str":
        return None if isinstance(value, str) else f"{path} is a JSON {json_type_name(value)}, not a string"
    if not isinstance(value, dict):
        return f"{path} is a JSON {json_type_name(value)}, not a {kind} object"
    fields = _DATATYPES[kind]
    for name, field_kind in fields.items():
        if name in value and value[name] is not None:
            found = _problem(value[name], field_kind, f"{path}.{name}")
            if found:
                return found
    return None


def _is_str(value: Any) -> bool:
    return type(value) is str


def _fields_fine(value: Any, checks: tuple[tuple[str, Any], ...]) -> bool:
    if type(value) is not dict:
        return False
    for name, check in checks:
        item = value.get(name)
        if item is not None and not check(item):
            return False
    return True


def _list_of(check: Any) -> Any:
    return lambda value: type(value) is list and all(check(item) for item in value)


# Fast checks, one function per kind (the common case: every field is right, and no message is built).
_CHECKS: dict[str, Any] = {"str": _is_str}
for _kind in ("Coding", "Reference", "Period", "Annotation", "CodeableConcept", "Series"):  # dependencies first
    _CHECKS[_kind] = (
        lambda value, _c=tuple(
            (name, _CHECKS[kind] if not kind.startswith("[") else _list_of(_CHECKS[kind[1:-1]]))
            for name, kind in _DATATYPES[_kind].items()
        ): _fields_fine(value, _c)
    )


def _fine(value: Any, kind: str) -> bool:
    """True when `value` has the FHIR JSON type of `kind`."""
    if kind.startswith("["):
        check = _CHECKS[kind[1:-1]]
        return type(value) is list and all(check(item) for item in value)
    return _CHECKS[kind](value)


def json_type_problem(resource: dict[str, Any], resource_type: str) -> str | None:
    """The first field selection reads whose JSON type FHIR forbids, as "Observation.status is a JSON
    array, not a string"; None when every such field is of its FHIR type. Names the field, never its value."""
    fields = _CHECKED.get(resource_type)
    if fields is None:
        return None
    problem = None
    for name, kind in fields:
        value = resource.get(name)
        if value is not None and not _fine(value, kind):
            problem = _problem(value, kind, f"{resource_type}.{name}")
            break
    return problem
