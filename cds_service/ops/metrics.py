"""Prometheus metrics (prometheus-client) and `GET /metrics`.

Every label value comes from a closed set: route templates, our service ids, pathway node ids, card
indicators, outcome words. Nothing a client sends reaches a label as it was sent: an unknown service id is
`unknown`, an odd method is `OTHER`, free-text reasons are reduced to a fixed word. So no label can carry a
patient id or a token.

Several workers: `cds-service serve --workers N` points prometheus-client's multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`) at a fresh directory before the workers start; `/metrics` then adds up the
files of every worker, so any worker answers for the whole server. The variable must be set before this
module is imported (prometheus-client reads it then).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from cds_service.ops.metrics_env import MULTIPROCESS_ENV

__all__ = [
    "MULTIPROCESS_ENV",
    "auth_failure_kind",
    "observe_auth_failure",
    "observe_cards",
    "observe_feedback",
    "observe_fhir_request",
    "observe_http",
    "observe_prefetch_unavailable",
    "prefetch_failure_kind",
    "router",
]

log = logging.getLogger("cds_service.metrics")

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNKNOWN = "unknown"
# Seconds. A hook call answers in ~15 ms with prefetch; the spec asks for "on the order of 500 ms"; FHIR
# reads time out at 10 s by default.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "cds_http_requests", "HTTP requests answered, by method, route template and status", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "cds_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)
HOOK_CALLS = Counter("cds_hook_calls", "CDS Hooks service calls, by service id and HTTP status", ["service", "status"])
HOOK_DURATION = Histogram(
    "cds_hook_call_duration_seconds", "Time to answer a CDS Hooks service call, by service id", ["service"],
    buckets=LATENCY_BUCKETS,
)
CARDS_ISSUED = Counter(
    "cds_cards_issued", "Cards returned by hook calls, by service, pathway node and indicator",
    ["service", "node", "indicator"],
)
PREFETCH_UNAVAILABLE = Counter(
    "cds_prefetch_unavailable", "412 answers (required data could not be had), by reason; an answer with "
    "several reasons counts once under each", ["reason"],
)
FHIR_REQUESTS = Counter("cds_fhir_requests", "Requests to EHR FHIR servers, by outcome", ["outcome"])
FHIR_DURATION = Histogram(
    "cds_fhir_request_duration_seconds", "Time of one request to an EHR FHIR server, by outcome", ["outcome"],
    buckets=LATENCY_BUCKETS,
)
AUTH_FAILURES = Counter("cds_auth_failures", "Calls refused with 401, by reason", ["reason"])
FEEDBACK = Counter(
    "cds_feedback_entries", "Feedback entries stored (repeats included), by pathway node and outcome",
    ["node", "outcome"],
)

# Known words only: free text from an exception never becomes a label.
_AUTH_KINDS: tuple[tuple[str, str], ...] = (
    (r"^missing Authorization", "missing_token"),
    (r"^malformed", "malformed_token"),
    (r"jti already used", "replayed_jti"),
    (r"jti must", "bad_jti"),
    (r"has expired", "expired"),
    (r"in the future", "not_yet_valid"),
    (r"lifetime", "lifetime_too_long"),
    (r"^JWT aud", "wrong_audience"),
    (r"^JWT (has no iss|iss)", "untrusted_issuer"),
    (r"^JWT tenant", "wrong_tenant"),
    (r"signature", "bad_signature"),
    (r"jku", "jku_not_allowed"),
    (r"^JWT alg|is for|cannot verify", "algorithm_refused"),
    (r"^JWT header", "bad_header"),
    (r"lacks the required claim|NumericDate", "missing_claim"),
    (r"^no key with kid|^key ", "unknown_key"),
)
_PREFETCH_KINDS: tuple[tuple[str, str], ...] = (
    (r"no fhirServer", "no_fhir_server"),
    (r"timed out", "fhir_timeout"),
    (r"could not be reached", "fhir_unreachable"),
    (r"more than \d+ pages", "too_many_pages"),
    (r"size limit", "page_too_large"),
    (r"next link points to another server", "foreign_next_link"),
    (r"answered \d{3}", "fhir_http_error"),
    (r"invalid JSON|not a FHIR resource", "fhir_invalid_answer"),
    (r"OperationOutcome", "fhir_operation_outcome"),
    (r"template token", "context_value_missing"),
    (r"request failed", "fhir_request_failed"),
)
_OUTCOME_WORD = re.compile(r"^[a-z0-9_]{1,32}$")


def _kind(reason: str, kinds: Iterable[tuple[str, str]]) -> str:
    for pattern, kind in kinds:
        if re.search(pattern, reason):
            return kind
    return "other"


def auth_failure_kind(reason: str) -> str:
    """The authenticator's reason (free text, may quote claims) as one fixed word."""
    return _kind(reason, _AUTH_KINDS)


def prefetch_failure_kind(reason: str) -> str:
    return _kind(reason, _PREFETCH_KINDS)


def _service_label(service_id: str | None) -> str:
    from cds_service.services import service_by_id

    return service_id if service_id and service_by_id(service_id) is not None else UNKNOWN


def observe_http(*, method: str, route: str, status: int, seconds: float, service_id: str | None) -> None:
    """One answered request (ops/access.py calls it). `route` is a template, never the raw path."""
    method = method if method in KNOWN_METHODS else "OTHER"
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)
    if route == "/cds-services/{service_id}" and method == "POST":
        service = _service_label(service_id)
        HOOK_CALLS.labels(service, str(status)).inc()
        HOOK_DURATION.labels(service).observe(seconds)


def observe_cards(state: Any, service_id: str, cards: Iterable[Mapping[str, Any]]) -> None:
    """Cards a hook call returns: counted by node and indicator; their number goes to the access line.

    `state` is the request's `request.state`.
    """
    count = 0
    service = _service_label(service_id)
    for card in cards:
        count += 1
        topic = (card.get("source") or {}).get("topic") or {}
        CARDS_ISSUED.labels(service, _node_label(topic.get("code")), _indicator_label(card.get("indicator"))).inc()
    state.cards_returned = count


def _node_label(node_id: object) -> str:
    from cds_service.guideline.nodes import node_spec

    return node_id if isinstance(node_id, str) and node_spec(node_id) is not None else UNKNOWN


def _indicator_label(indicator: object) -> str:
    from cds_service.guideline.nodes import INDICATORS

    return indicator if isinstance(indicator, str) and indicator in INDICATORS else UNKNOWN


def observe_prefetch_unavailable(missing: Mapping[str, str]) -> None:
    for kind in sorted({prefetch_failure_kind(reason) for reason in missing.values()}):
        PREFETCH_UNAVAILABLE.labels(kind).inc()


def observe_auth_failure(reason: str) -> None:
    AUTH_FAILURES.labels(auth_failure_kind(reason)).inc()


def observe_fhir_request(outcome: str, seconds: float) -> None:
    """`FhirClient(on_request=...)` observer: one request to a FHIR server, its outcome word and duration."""
    label = outcome if _OUTCOME_WORD.match(outcome) else "other"
    FHIR_REQUESTS.labels(label).inc()
    FHIR_DURATION.labels(label).observe(seconds)


def observe_feedback(engine: Any, entries: Iterable[Any]) -> None:
    """After the store committed a feedback batch: count its entries by their card's node and outcome.

    One small query (card uuid -> node) per batch; feedback is rare next to hook calls.
    """
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from cds_service.store.models import IssuedCard

    entries = list(entries)
    uuids = sorted({entry.card for entry in entries})
    try:
        with engine.connect() as connection:
            query = select(IssuedCard.uuid, IssuedCard.node_id).where(IssuedCard.uuid.in_(uuids))
            nodes = {uuid: node for uuid, node in connection.execute(query).all()}
    except SQLAlchemyError as exc:
        # The batch is committed already: a metrics lookup must not turn its 200 into an error.
        log.warning("feedback metrics not counted: %s", type(exc).__name__)
        return
    for entry in entries:
        FEEDBACK.labels(_node_label(nodes.get(entry.card)), entry.outcome).inc()


def _registry() -> CollectorRegistry | None:
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return None


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    registry = _registry()
    body = generate_latest(registry) if registry is not None else generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
