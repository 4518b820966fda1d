"""The fixture patients as the sandbox's ready-made patients: `CDS_SANDBOX_PATIENTS=fhir_fixtures.sandbox:PATIENTS`
(`make serve` sets it). The service knows only the shape (`cds_service/sandbox/samples.py`); this side knows
the fixtures, so the dependency runs one way."""

from __future__ import annotations

from typing import Any

from fhir_fixtures import catalog

__all__ = ["PATIENTS", "FixturePatients"]


class FixturePatients:
    ids = catalog.PATIENTS

    def story(self, patient: str) -> str:
        from fhir_fixtures.table import story  # the stories' authors: imported when the page lists them

        return story(patient)

    def bundle(self, patient: str) -> dict[str, Any]:
        return catalog.bundle(patient)

    def drafts(self, patient: str) -> dict[str, Any]:
        return catalog.drafts(patient)


PATIENTS = FixturePatients()
