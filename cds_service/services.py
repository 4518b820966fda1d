"""The CDS services this server offers, each declared once. Discovery is generated from these.

All three hooks read the same data, so they share one set of prefetch templates. Searches are
code-filtered with the pathway's value sets and split so that no URL grows past `MAX_QUERY_CHARS`
(real servers and proxies refuse URLs of a few kB).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from cds_service.guideline.valuesets import prefetch_codings

__all__ = ["CdsService", "MAX_QUERY_CHARS", "PREFETCH_TEMPLATES", "SERVICES", "discovery_document", "service_by_id"]

MAX_QUERY_CHARS = 1800  # after URL-encoding, with room for the server's base URL and the patient id
PATIENT = "{{context.patientId}}"


@dataclass(frozen=True, slots=True)
class CdsService:
    id: str
    hook: str
    title: str
    description: str

    def discovery_entry(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(prefetch_templates()),
        }


def _code_filtered(key: str, base: str, codings: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`base&code=s|c,s|c...`, split into as many keys (`key`, `key-2`, ...) as the URL limit needs."""
    templates: list[tuple[str, str]] = []
    chunk: list[str] = []

    def flush() -> None:
        name = key if not templates else f"{key}-{len(templates) + 1}"
        templates.append((name, f"{base}&code={','.join(chunk)}"))
        chunk.clear()

    for system, code in codings:
        token = quote(f"{system}|{code}", safe="/:")
        if chunk and len(base) + len("&code=") + len(",".join([*chunk, token])) > MAX_QUERY_CHARS:
            flush()
        chunk.append(token)
    if chunk:
        flush()
    return templates


@lru_cache(maxsize=1)
def prefetch_templates() -> tuple[tuple[str, str], ...]:
    """Key -> FHIR query template. Each asks only for what the pathway reads."""
    templates: list[tuple[str, str]] = [("patient", f"Patient/{PATIENT}")]
    templates += _code_filtered("conditions", f"Condition?patient={PATIENT}", prefetch_codings("Condition"))
    # Text matching is the spec's fallback for data without codes, and a code filter never returns a
    # text-only problem: so also every active problem, whatever its code (the facts step drops the rest
    # before validation). Resolved coded problems still come through the code-filtered keys above.
    templates.append(
        ("active-conditions", f"Condition?patient={PATIENT}&clinical-status=active,recurrence,relapse")
    )
    templates += _code_filtered("lab-results", f"Observation?patient={PATIENT}", prefetch_codings("Observation"))
    templates.append(("imaging-results", f"Observation?patient={PATIENT}&category=imaging"))
    templates.append(
        (
            "imaging-studies",
            f"ImagingStudy?patient={PATIENT}&modality="
            + ",".join(f"http://dicom.nema.org/resources/ontology/DCM|{m}" for m in ("DX", "CR", "MR", "CT", "US")),
        )
    )
    templates += _code_filtered(
        "imaging-reports", f"DiagnosticReport?patient={PATIENT}", prefetch_codings("DiagnosticReport")
    )
    # Radiology reports under a local code (or none): by category, LOINC LP29684-5 "Radiology", the
    # US Core DiagnosticReport category for imaging reports.
    templates.append(
        ("radiology-reports", f"DiagnosticReport?patient={PATIENT}&category={quote('http://loinc.org|LP29684-5', safe='/:')}")
    )
    templates += _code_filtered(
        "active-orders", f"ServiceRequest?patient={PATIENT}&status=active", prefetch_codings("ServiceRequest")
    )
    templates += _code_filtered("procedures", f"Procedure?patient={PATIENT}", prefetch_codings("Procedure"))
    return tuple(templates)


PREFETCH_TEMPLATES = prefetch_templates

_DESCRIPTION = (
    "Applies the approach to soft tissue calcifications in the foot: plain radiographs first, then "
    "classification (dystrophic, metastatic, infection-related, idiopathic), metabolic labs, infection and "
    "surgical red flags, and follow-up, with a radiology differential diagnosis of the calcification."
)

SERVICES: tuple[CdsService, ...] = (
    CdsService(
        id="foot-calcification-patient-view",
        hook="patient-view",
        title="Foot soft tissue calcification pathway",
        description=_DESCRIPTION,
    ),
    CdsService(
        id="foot-calcification-order-select",
        hook="order-select",
        title="Foot soft tissue calcification: imaging and lab order check",
        description=_DESCRIPTION
        + " On order-select it checks the selected orders: radiographs before MRI/CT/US, repeat-radiograph "
        "timing, duplicate labs and debridement of an ischemic eschar.",
    ),
    CdsService(
        id="foot-calcification-order-sign",
        hook="order-sign",
        title="Foot soft tissue calcification: order review at signing",
        description=_DESCRIPTION
        + " On order-sign it reviews every draft order and re-offers the pathway's tests and referrals that "
        "are neither done nor ordered.",
    ),
)

_BY_ID = {service.id: service for service in SERVICES}


def service_by_id(service_id: str) -> CdsService | None:
    return _BY_ID.get(service_id)


def discovery_document() -> dict[str, Any]:
    return {"services": [service.discovery_entry() for service in SERVICES]}
