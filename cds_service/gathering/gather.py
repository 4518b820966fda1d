"""Prefetch + FHIR server -> `RawRecord`, for one hook call.

Prefetch values are used as given. Every key the service asks for (`services.prefetch_templates()`) that the
client left out, or answered with an OperationOutcome or with something that is not FHIR, is fetched from
`fhirServer`, all at once. Keys the service did not ask for are ignored: they may be another service's.
If any key can still not be had, the call fails with `DataUnavailable` (412) naming every such key; the
call's `Deadline` bounds the whole fetch.

The service's own queries carry each key's date window (`services.fetch_query`): a long history is never
fetched whole. When the EHR paged a prefetch answer (a `next` link), further pages are fetched only when
they can matter: not when the page, sorted newest first, is already older than the key's window, and
through the windowed query rather than the EHR's open-ended pages when the key has a window.

A windowed key the service runs itself is two queries: the window, and its records with no value in the
window's date parameter (`services.undated_query`), which a date search never matches but the EHR's prefetch
sends. Should a FHIR server refuse that second query (not every server has `:missing`), the key is still
used, and a data issue says that records dated otherwise may be missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from cds_service.errors import DataUnavailable
from cds_service.gathering.deadline import Deadline
from cds_service.gathering.fhir_client import FetchFailed, FhirClient, next_link
from cds_service.gathering.merge import RecordBuilder, UnusableValue
from cds_service.gathering.prefetch import (
    TemplateError,
    ValueKind,
    classify,
    is_read,
    past_window,
    render_template,
    token_values,
)
from cds_service.gathering.records import RawRecord
from cds_service.guideline.config import PathwayConfig, load_pathway_config
from cds_service.protocol.request import HookRequest, OrderSelectContext, OrderSignContext, PatientViewContext
from cds_service.services import fetch_query, prefetch_keys, undated_query, window_start

__all__ = ["NO_FHIR_SERVER", "NO_FHIR_SERVER_FOR_PAGES", "REFETCHED", "UNDATED", "gather"]

log = logging.getLogger("cds_service.gathering")

NO_FHIR_SERVER = "no fhirServer in the request"
NO_FHIR_SERVER_FOR_PAGES = "prefetch Bundle has further pages (next link) but no fhirServer in the request"
UNDATED = "+undated"  # the name of a windowed key's second query (`undated_query`) in a fetch
# A prefetch value that was not FHIR, replaced by the FHIR server's answer: the ending of its data issue
# (explain mode then knows the key's records were read after all).
REFETCHED = "fetched from the FHIR server instead"


@dataclass(slots=True)
class _Plan:
    """What the prefetch left to do: keys to query, prefetch Bundles to continue, keys already lost."""

    queries: dict[str, str] = field(default_factory=dict)  # name -> query; a key's undated one: key + UNDATED
    continuations: dict[str, str] = field(default_factory=dict)
    patient_reads: set[str] = field(default_factory=set)
    missing: dict[str, str] = field(default_factory=dict)


async def gather(
    request: HookRequest,
    context: PatientViewContext,
    client: FhirClient,
    *,
    deadline: Deadline | None = None,
    today: date | None = None,
    config: PathwayConfig | None = None,
) -> RawRecord:
    """`today` and `config` set the date windows of the service's own queries (the evaluation day and the
    pathway's lookbacks); they default to the calendar day and the packaged thresholds."""
    builder = RecordBuilder(context.patientId, fhir_server=request.fhirServer)
    plan = _use_prefetch(request, context, builder, today or date.today(), config or load_pathway_config())
    if plan.queries or plan.continuations:
        await _fetch(request, client, plan, builder, deadline)
    if plan.missing:
        raise DataUnavailable(plan.missing)
    if isinstance(context, OrderSelectContext):
        builder.set_draft_orders(context.draftOrders, context.selections)
    elif isinstance(context, OrderSignContext):
        # order-sign: every draft order is under review.
        builder.set_draft_orders(context.draftOrders, context.draft_references())
    return builder.build()


def _use_prefetch(
    request: HookRequest, context: PatientViewContext, builder: RecordBuilder, today: date, config: PathwayConfig
) -> _Plan:
    plan = _Plan()
    values = token_values(context)
    prefetch = request.prefetch
    for spec in prefetch_keys():
        key = spec.key
        try:
            rendered = render_template(spec.template, values)
        except TemplateError as error:
            plan.missing[key] = str(error)
            continue
        if is_read(rendered) and rendered.startswith("Patient/"):
            plan.patient_reads.add(key)
        query = fetch_query(spec, rendered, today, config)
        undated = undated_query(spec, rendered)
        state = classify(prefetch, key)
        if state.kind is ValueKind.NO_DATA:
            continue
        if state.kind is ValueKind.DATA:
            assert prefetch is not None  # classify found the key in it
            try:
                builder.add_value(f"prefetch.{key}", prefetch[key], patient_read=key in plan.patient_reads)
            except UnusableValue as unusable:
                plan.missing[key] = f"prefetch value: {unusable.reason}"
                continue
            further = next_link(prefetch[key])
            if further is None:
                continue
            # The client paged its answer (the spec allows it): the rest is on the FHIR server.
            if spec.window is None:
                plan.continuations[key] = further
            else:
                if not past_window(prefetch[key], spec.window.elements, window_start(spec.window, today, config)):
                    # The EHR's pages are open-ended (its template has no date): ask for the window instead.
                    plan.queries[key] = query
                if undated is not None:
                    # Wherever the EHR sorted its undated records, they may be on the pages not followed.
                    plan.queries[key + UNDATED] = undated
            continue
        if state.kind is ValueKind.NOT_FHIR:
            builder.issue(f"prefetch.{key}", f"{state.problem}; {REFETCHED}")
        elif state.kind is ValueKind.FAILED:
            log.info("prefetch key %s: the client reported an OperationOutcome; fetching it", key)
        plan.queries[key] = query
        if undated is not None:
            plan.queries[key + UNDATED] = undated
    return plan


async def _fetch(
    request: HookRequest, client: FhirClient, plan: _Plan, builder: RecordBuilder, deadline: Deadline | None
) -> None:
    if request.fhirServer is None:
        plan.missing.update({name.removesuffix(UNDATED): NO_FHIR_SERVER for name in plan.queries})
        plan.missing.update({key: NO_FHIR_SERVER_FOR_PAGES for key in plan.continuations})
        return
    token = None
    if request.fhirAuthorization is not None:
        token = request.fhirAuthorization.access_token.get_secret_value()
    results = await client.fetch_all(
        request.fhirServer, plan.queries, access_token=token, continuations=plan.continuations, deadline=deadline
    )
    for name, result in results.items():
        key = name.removesuffix(UNDATED)
        if isinstance(result, FetchFailed):
            if name != key:
                # The windowed query answered (or its own failure is counted): the key is usable, short only
                # of records the date search cannot find. Said, not dropped silently.
                builder.issue(
                    f"fhirServer.{name}",
                    f"the FHIR server did not answer the search for {key} records without a date in the "
                    f"search's date parameter ({result.reason}); records dated only otherwise (e.g. by "
                    "`issued` or in an ImagingStudy's series) may be missing",
                )
                continue
            plan.missing[key] = result.reason
            continue
        # A continued key's page 1 was the prefetch value.
        first = 2 if name in plan.continuations else 1
        for number, page in enumerate(result.pages, start=first):
            where = f"fhirServer.{name}" if first == 1 and len(result.pages) == 1 else f"fhirServer.{name}.page[{number}]"
            try:
                builder.add_value(where, page, patient_read=key in plan.patient_reads)
            except UnusableValue as unusable:
                plan.missing[key] = f"FHIR server answer: {unusable.reason}"
                break
