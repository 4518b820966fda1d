"""Prefetch + FHIR server -> `RawRecord`, for one hook call.

Prefetch values are used as given. Every key the service asks for (`services.prefetch_templates()`) that the
client left out, or answered with an OperationOutcome or with something that is not FHIR, is fetched from
`fhirServer`, all at once. Keys the service did not ask for are ignored: they may be another service's.
If any key can still not be had, the call fails with `DataUnavailable` (412) naming every such key; the
call's `Deadline` bounds the whole fetch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cds_service.errors import DataUnavailable
from cds_service.gathering.deadline import Deadline
from cds_service.gathering.fhir_client import FetchFailed, FhirClient, next_link
from cds_service.gathering.merge import RecordBuilder, UnusableValue
from cds_service.gathering.prefetch import (
    TemplateError,
    ValueKind,
    classify,
    is_read,
    render_template,
    token_values,
)
from cds_service.gathering.records import RawRecord
from cds_service.protocol.request import HookRequest, OrderSelectContext, OrderSignContext, PatientViewContext
from cds_service.services import prefetch_templates

__all__ = ["NO_FHIR_SERVER", "NO_FHIR_SERVER_FOR_PAGES", "gather"]

log = logging.getLogger("cds_service.gathering")

NO_FHIR_SERVER = "no fhirServer in the request"
NO_FHIR_SERVER_FOR_PAGES = "prefetch Bundle has further pages (next link) but no fhirServer in the request"


@dataclass(slots=True)
class _Plan:
    """What the prefetch left to do: keys to query, prefetch Bundles to continue, keys already lost."""

    queries: dict[str, str] = field(default_factory=dict)
    continuations: dict[str, str] = field(default_factory=dict)
    patient_reads: set[str] = field(default_factory=set)
    missing: dict[str, str] = field(default_factory=dict)


async def gather(
    request: HookRequest, context: PatientViewContext, client: FhirClient, *, deadline: Deadline | None = None
) -> RawRecord:
    builder = RecordBuilder(context.patientId, fhir_server=request.fhirServer)
    plan = _use_prefetch(request, context, builder)
    if plan.queries or plan.continuations:
        await _fetch(request, client, plan, builder, deadline)
    if plan.missing:
        raise DataUnavailable(plan.missing)
    if isinstance(context, OrderSelectContext):
        builder.set_draft_orders(context.draftOrders, list(context.selections))
    elif isinstance(context, OrderSignContext):
        # order-sign: every draft order is under review.
        builder.set_draft_orders(context.draftOrders, context.draft_references())
    return builder.build()


def _use_prefetch(request: HookRequest, context: PatientViewContext, builder: RecordBuilder) -> _Plan:
    plan = _Plan()
    values = token_values(context)
    prefetch = request.prefetch
    for key, template in prefetch_templates():
        try:
            query = render_template(template, values)
        except TemplateError as error:
            plan.missing[key] = str(error)
            continue
        if is_read(query) and query.startswith("Patient/"):
            plan.patient_reads.add(key)
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
            if further is not None:
                # The client paged its answer (the spec allows it): the rest is on the FHIR server.
                plan.continuations[key] = further
            continue
        if state.kind is ValueKind.NOT_FHIR:
            builder.issue(f"prefetch.{key}", f"{state.problem}; fetched from the FHIR server instead")
        elif state.kind is ValueKind.FAILED:
            log.info("prefetch key %s: the client reported an OperationOutcome; fetching it", key)
        plan.queries[key] = query
    return plan


async def _fetch(
    request: HookRequest, client: FhirClient, plan: _Plan, builder: RecordBuilder, deadline: Deadline | None
) -> None:
    if request.fhirServer is None:
        plan.missing.update({key: NO_FHIR_SERVER for key in plan.queries})
        plan.missing.update({key: NO_FHIR_SERVER_FOR_PAGES for key in plan.continuations})
        return
    token = None
    if request.fhirAuthorization is not None:
        token = request.fhirAuthorization.access_token.get_secret_value()
    results = await client.fetch_all(
        request.fhirServer, plan.queries, access_token=token, continuations=plan.continuations, deadline=deadline
    )
    for key, result in results.items():
        if isinstance(result, FetchFailed):
            plan.missing[key] = result.reason
            continue
        # A continued key's page 1 was the prefetch value.
        first = 2 if key in plan.continuations else 1
        for number, page in enumerate(result.pages, start=first):
            where = f"fhirServer.{key}" if first == 1 and len(result.pages) == 1 else f"fhirServer.{key}.page[{number}]"
            try:
                builder.add_value(where, page, patient_read=key in plan.patient_reads)
            except UnusableValue as unusable:
                plan.missing[key] = f"FHIR server answer: {unusable.reason}"
                break
