"""Uniform reads of FHIR data, whether raw JSON (selection) or a validated R4B model (facts).

Selection runs on JSON before validation and facts run on models after it; reading both through these
helpers keeps the two steps' idea of "the codes of this concept" identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = [
    "codings",
    "concept_texts",
    "concepts",
    "get",
    "items",
    "ref_of",
    "reference_of",
    "resource_type_of",
    "status_code",
    "strings",
]


def get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def items(obj: Any, name: str) -> list[Any]:
    """`obj.name` as a list (FHIR 0..* fields; a lone value is wrapped)."""
    value = get(obj, name)
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
    """(system, code) of every Coding of the given CodeableConcepts (a bare Coding is accepted too)."""
    for concept in concept_list:
        if concept is None:
            continue
        if get(concept, "coding") is None and get(concept, "code") is not None:
            yield get(concept, "system"), get(concept, "code")
            continue
        for coding in items(concept, "coding"):
            yield get(coding, "system"), get(coding, "code")


def strings(*values: Any) -> list[str]:
    """The values that are non-empty strings (FHIR text fields may be absent, empty or of the wrong type)."""
    return [value for value in values if isinstance(value, str) and value]


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
    return f"{resource_type_of(resource)}/{get(resource, 'id') or '?'}"


def resource_type_of(resource: Any) -> str:
    if isinstance(resource, dict):
        return str(resource.get("resourceType"))
    return str(resource.get_resource_type())


def ref_of(reference: Any) -> str | None:
    """The `reference` string of a Reference (JSON or model)."""
    value = get(reference, "reference")
    return value if isinstance(value, str) else None
