"""PLACEHOLDER until the value sets land (helper C replaces this file)."""

from __future__ import annotations


def prefetch_codings(resource_type: str) -> list[tuple[str, str]]:
    return {
        "Condition": [("http://snomed.info/sct", "442098006")],
        "Observation": [("http://loinc.org", "17861-6")],
        "DiagnosticReport": [("http://loinc.org", "36305-1")],
        "ServiceRequest": [("http://loinc.org", "36305-1")],
        "Procedure": [("http://snomed.info/sct", "1290452004")],
    }[resource_type]
