"""PLACEHOLDER (helper A replaces): FHIR server client."""
from __future__ import annotations


class FhirClient:
    def __init__(self, **kwargs: object) -> None:
        self.options = kwargs

    def close(self) -> None:
        pass
