"""PLACEHOLDER (helper C replaces): RawRecord -> ClinicalData."""
from __future__ import annotations

from cds_service.gathering.records import ClinicalData, RawRecord


def to_clinical_data(raw: RawRecord, patient_id: str) -> ClinicalData:
    return ClinicalData(patient_id=patient_id, patient=None, issues=tuple(raw.issues))
