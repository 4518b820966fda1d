"""Prefetch + FHIR server -> `RawRecord`, for one hook call.

Prefetch values are used as given. Every key the service asks for (`services.prefetch_templates()`) that the
client left out, or answered with an OperationOutcome or with something that is not FHIR, is fetched from
`fhirServer`, all at once. Keys the service did not ask for are ignored: they may be another service's.
If any key can still not be had, the call fails with `DataUnavailable` (412) naming every such key.
"""

from __future__ import annotations

import logging

from cds_service.errors import DataUnavailable
from cds_service.gathering.fhir_client import FetchFailed, FhirClient
from cds_service.gathering.merge import RecordBuilder
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

__all__ = ["NO_FHIR_SERVER", "gather"]

log = logging.getLogger("cds_service.gathering")

NO_FHIR_SERVER = "no fhirServer in the request"


def gather(request: HookRequest, context: PatientViewContext, client: FhirClient) -> RawRecord:
    builder = RecordBuilder(context.patientId)
    values = token_values(context)
    prefetch = request.prefetch
    to_fetch: dict[str, str] = {}
    reads: set[str] = set()
    missing: dict[str, str] = {}

    for key, template in prefetch_templates():
        try:
            query = render_template(template, values)
        except TemplateError as error:
            missing[key] = str(error)
            continue
        if is_read(query) and query.startswith("Patient/"):
            reads.add(key)
        state = classify(prefetch, key)
        if state.kind is ValueKind.DATA:
            assert prefetch is not None  # classify found the key in it
            builder.add_value(f"prefetch.{key}", prefetch[key], patient_read=key in reads)
        elif state.kind is ValueKind.NO_DATA:
            continue
        else:
            if state.kind is ValueKind.NOT_FHIR:
                builder.issue(f"prefetch.{key}", f"{state.problem}; fetched from the FHIR server instead")
            elif state.kind is ValueKind.FAILED:
                log.info("prefetch key %s: the client reported an OperationOutcome; fetching it", key)
            to_fetch[key] = query

    if to_fetch and request.fhirServer is None:
        missing.update({key: NO_FHIR_SERVER for key in to_fetch})
    elif to_fetch:
        assert request.fhirServer is not None
        token = None
        if request.fhirAuthorization is not None:
            token = request.fhirAuthorization.access_token.get_secret_value()
        results = client.fetch_all(request.fhirServer, to_fetch, access_token=token)
        for key, result in results.items():
            if isinstance(result, FetchFailed):
                missing[key] = result.reason
                continue
            for number, page in enumerate(result.pages, start=1):
                where = f"fhirServer.{key}" if len(result.pages) == 1 else f"fhirServer.{key}.page[{number}]"
                builder.add_value(where, page, patient_read=key in reads)
    if missing:
        raise DataUnavailable(missing)

    if isinstance(context, OrderSelectContext):
        builder.set_draft_orders(context.draftOrders, list(context.selections))
    elif isinstance(context, OrderSignContext):
        # order-sign: every draft order is under review.
        builder.set_draft_orders(context.draftOrders, context.draft_references())
    return builder.build()
