"""The CDS services this server offers, each declared once. Discovery is generated from these.

All three hooks read the same data, so they share one set of prefetch keys. Each key is a FHIR query
template (what discovery advertises) and, for records the rules read only over a lookback, a date window
the service adds when it runs the query itself (prefetch tokens cannot compute dates).

What the keys bring, and why (the facts step reads nothing that no key can bring; a test checks it):
- every Condition: problems with no clinicalStatus, text-only ones and the EHR's own codes all reach the
  text fallback, and a resolved injury still explains a dystrophic calcification;
- lab results by code (LOINC, even without a category) and by category `laboratory` (the EHR's own codes,
  recognised by text), newest first, over the longest lab lookback;
- imaging results, radiology reports and imaging studies whatever their code (by category, or all studies:
  the R4 `modality` search reads `series.modality` only), newest first, over `imaging_history_days`;
- exam/procedure Observations (a probe-to-bone test written as text) over the infection-lab lookback;
- every active order and every Procedure (over `imaging_history_days`), recognised by code or text;
- completed orders (over `imaging_history_days`): a completed imaging order is a study done even when no
  study or report of it reached the record.
When the service runs a windowed key itself, it also asks for the key's records that have no value in the
window's search parameter (`<param>:missing=true`): an Observation dated only by `issued`, an ImagingStudy
dated only in its series, an order with no `authoredOn`. The date search would drop them, where the EHR's
prefetch (no date in its template) sends them; the facts step dates them and applies the same lookbacks to
both, so prefetch and fetch give the same cards.
Searches ask for `_count` entries a page and are split so that no URL grows past `MAX_QUERY_CHARS` after
the percent-encoding the CDS Hooks Sandbox applies (real servers and proxies refuse URLs of a few kB).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.valuesets import category_tokens, prefetch_codings

__all__ = [
    "MAX_QUERY_CHARS",
    "PAGE_COUNT",
    "PREFETCH_TEMPLATES",
    "SERVICES",
    "CdsService",
    "PrefetchKey",
    "Window",
    "discovery_document",
    "encoded_length",
    "fetch_query",
    "undated_query",
    "prefetch_keys",
    "prefetch_templates",
    "service_by_id",
    "window_start",
]

# After the Sandbox's percent-encoding of `: / , |`, with room for the server's base URL and the patient id.
MAX_QUERY_CHARS = 1800
# Entries asked per page. HAPI answers 20 by default; most servers honour up to 100-1000.
PAGE_COUNT = 100
PATIENT = "{{context.patientId}}"
_SANDBOX_ESCAPES = {":": "%3A", "/": "%2F", ",": "%2C", "|": "%7C"}


def encoded_length(query: str) -> int:
    """Length of a relative query once the Sandbox percent-encodes `: / , |` in its query string."""
    path, _, search = query.partition("?")
    return len(path) + 1 + sum(len(_SANDBOX_ESCAPES.get(char, char)) for char in search) if search else len(path)


@dataclass(frozen=True, slots=True)
class Window:
    """A lower date bound the service adds to its own fetch: `<param>=ge<today - days>`.

    `elements` are where an entry of that search carries the date, newest end first: they decide whether a
    page the EHR sent, sorted newest first, is already older than the window (so no further page is needed).
    `lookback` names what sets its length (see `window_days`).
    """

    param: str
    elements: tuple[str, ...]
    lookback: str  # "labs" | "imaging" | "exam"


@dataclass(frozen=True, slots=True)
class PrefetchKey:
    key: str
    template: str
    window: Window | None = None


_OBSERVATION_DATE = ("effectiveDateTime", "effectiveInstant", "effectivePeriod.end")
LABS = Window("date", _OBSERVATION_DATE, "labs")
EXAMS = Window("date", _OBSERVATION_DATE, "exam")
IMAGING_OBSERVATIONS = Window("date", _OBSERVATION_DATE, "imaging")
REPORTS = Window("date", _OBSERVATION_DATE, "imaging")
STUDIES = Window("started", ("started",), "imaging")
PROCEDURES = Window("date", ("performedDateTime", "performedPeriod.end"), "imaging")
COMPLETED_ORDERS = Window("authored", ("authoredOn",), "imaging")


def window_days(window: Window, config: PathwayConfig) -> int:
    """How far back the service fetches a windowed key: the longest lookback of what the rules read from it."""
    if window.lookback == "labs":
        return max(config.lab_lookback_days, config.infection_lab_lookback_days, config.duplicate_lab_window_days)
    if window.lookback == "exam":
        return config.infection_lab_lookback_days
    return config.imaging_history_days


def window_start(window: Window, today: date, config: PathwayConfig) -> date:
    return today - timedelta(days=window_days(window, config))


def fetch_query(spec: PrefetchKey, rendered: str, today: date, config: PathwayConfig) -> str:
    """The query the service runs itself: the rendered template, with the key's date window when it has one."""
    if spec.window is None:
        return rendered
    return f"{rendered}&{spec.window.param}=ge{window_start(spec.window, today, config).isoformat()}"


def undated_query(spec: PrefetchKey, rendered: str) -> str | None:
    """The second query of a windowed key: its records without the window's date element at all, which the
    date search leaves out (FHIR search: a resource without a value for a parameter never matches `ge`)."""
    if spec.window is None:
        return None
    return f"{rendered}&{spec.window.param}:missing=true"


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


def _code_filtered(key: str, base: str, suffix: str, codings: list[tuple[str, str]], window: Window) -> list[PrefetchKey]:
    """`base&code=s|c,s|c...suffix`, split into as many keys (`key`, `key-2`, ...) as the URL limit needs."""
    keys: list[PrefetchKey] = []
    chunk: list[str] = []

    def query(tokens: list[str]) -> str:
        return f"{base}&code={','.join(tokens)}{suffix}"

    def flush() -> None:
        name = key if not keys else f"{key}-{len(keys) + 1}"
        keys.append(PrefetchKey(name, query(chunk), window))
        chunk.clear()

    for system, code in codings:
        token = quote(f"{system}|{code}", safe="/:")
        if chunk and encoded_length(query([*chunk, token])) > MAX_QUERY_CHARS:
            flush()
        chunk.append(token)
    if chunk:
        flush()
    return keys


@lru_cache(maxsize=1)
def prefetch_keys() -> tuple[PrefetchKey, ...]:
    """Every key the services ask for, with its fetch window."""
    newest = f"&_sort=-date&_count={PAGE_COUNT}"
    keys = [
        PrefetchKey("patient", f"Patient/{PATIENT}"),
        PrefetchKey("conditions", f"Condition?patient={PATIENT}&_count={PAGE_COUNT}"),
    ]
    keys += _code_filtered("lab-results", f"Observation?patient={PATIENT}", newest, prefetch_codings("Observation"), LABS)
    keys += [
        PrefetchKey("laboratory", f"Observation?patient={PATIENT}&category={category_tokens('observation-laboratory')}{newest}", LABS),
        PrefetchKey("imaging-results", f"Observation?patient={PATIENT}&category={category_tokens('observation-imaging')}{newest}", IMAGING_OBSERVATIONS),
        PrefetchKey("exam-results", f"Observation?patient={PATIENT}&category={category_tokens('observation-exam')}{newest}", EXAMS),
        PrefetchKey("imaging-studies", f"ImagingStudy?patient={PATIENT}&_sort=-started&_count={PAGE_COUNT}", STUDIES),
    ]
    keys += _code_filtered(
        "imaging-reports", f"DiagnosticReport?patient={PATIENT}", newest, prefetch_codings("DiagnosticReport"), REPORTS
    )
    keys += [
        PrefetchKey("radiology-reports", f"DiagnosticReport?patient={PATIENT}&category={category_tokens('report-imaging')}{newest}", REPORTS),
        PrefetchKey("active-orders", f"ServiceRequest?patient={PATIENT}&status=active&_count={PAGE_COUNT}"),
        PrefetchKey(
            "completed-orders",
            f"ServiceRequest?patient={PATIENT}&status=completed&_sort=-authored&_count={PAGE_COUNT}",
            COMPLETED_ORDERS,
        ),
        PrefetchKey("procedures", f"Procedure?patient={PATIENT}{newest}", PROCEDURES),
    ]
    return tuple(keys)


@lru_cache(maxsize=1)
def prefetch_templates() -> tuple[tuple[str, str], ...]:
    """Key -> FHIR query template, as discovery advertises them."""
    return tuple((spec.key, spec.template) for spec in prefetch_keys())


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
