"""PLACEHOLDER (helper C replaces): ClinicalData -> Facts."""
from __future__ import annotations

from datetime import date

from cds_service.facts.model import Facts
from cds_service.gathering.records import ClinicalData


def build_facts(data: ClinicalData, *, hook: str, today: date, config: object) -> Facts:
    return Facts(today=today, patient_id=data.patient_id, hook=hook)
