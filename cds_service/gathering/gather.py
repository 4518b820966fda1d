"""PLACEHOLDER (helper A replaces): prefetch + FHIR server -> RawRecord."""
from __future__ import annotations

from cds_service.gathering.records import RawRecord


def gather(request, context, client) -> RawRecord:  # type: ignore[no-untyped-def]
    return RawRecord()
