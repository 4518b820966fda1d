"""What the sandbox page sends, made into a CDS Hooks request, and the service's answer made ready to show.

The page chooses a hook, a day ("today") and a source: a bundled fixture patient, a pasted FHIR Bundle, a
pasted CDS Hooks request, or a FHIR server URL and a patient id; for the order hooks, draft orders (the
fixture's, the Bundle's draft ServiceRequests, or pasted ones) and, for order-select, the selected ones.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cds_service.errors import BadRequest, issues_from_validation_error
from cds_service.sandbox.markdown import render_markdown
from cds_service.sandbox.samples import Samples
from cds_service.tools.hook_input import (
    HOOKS,
    InputError,
    draft_orders_from,
    render_tokens,
    request_for_fhir_server,
    request_from_bundle,
)

__all__ = ["RunInput", "build_request", "parse_run_input", "presentable"]

JSON = dict[str, Any]


class RunInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hook: Literal["patient-view", "order-select", "order-sign"] = "patient-view"
    today: date | None = None
    source: Literal["fixture", "bundle", "request", "fhir-server"]
    fixture: str | None = None
    bundle: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    fhirServer: str | None = Field(default=None, max_length=2000)
    patientId: str | None = Field(default=None, max_length=64)
    # Draft orders for the order hooks (a Bundle, an array of resources, or one); None: the source's own.
    drafts: Any = None
    # order-select: `Type/id` of the selected drafts; None: every draft.
    selections: list[str] | None = None


def parse_run_input(body: Any) -> RunInput:
    if not isinstance(body, dict):
        raise BadRequest([{"field": "(body)", "problem": "must be a JSON object"}])
    try:
        return RunInput.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(issues_from_validation_error(exc)) from None


def _fail(field: str, problem: str) -> BadRequest:
    return BadRequest([{"field": field, "problem": problem}])


def build_request(run: RunInput, samples: Samples) -> JSON:
    """The CDS Hooks request the input describes, or a 400 naming the field and the problem. `samples`: the
    ready-made patients the service was given (CDS_SANDBOX_PATIENTS), for the `fixture` source."""
    today = run.today or date.today()
    try:
        drafts = draft_orders_from(run.drafts) if run.drafts is not None else None
    except InputError as exc:
        raise _fail("drafts", str(exc)) from None
    try:
        if run.source == "fixture":
            if not samples.ids:
                raise _fail("fixture", "this service has no ready-made patients (CDS_SANDBOX_PATIENTS is unset)")
            if run.fixture not in samples.ids:
                raise _fail("fixture", "is not one of the bundled fixture patients")
            selections = run.selections
            if drafts is None and run.hook != "patient-view":
                orders = samples.provider.drafts(run.fixture)[run.hook]
                drafts = orders["draftOrders"]
                if selections is None and run.hook == "order-select":
                    selections = orders["selections"]
            return request_from_bundle(samples.provider.bundle(run.fixture), hook=run.hook, patient_id=run.fixture,
                                       today=today, drafts=drafts, selections=selections)
        if run.source == "bundle":
            if run.bundle is None:
                raise _fail("bundle", "is required: paste a FHIR Bundle of one patient's record")
            return request_from_bundle(run.bundle, hook=run.hook, patient_id=run.patientId or None, today=today,
                                       drafts=drafts, selections=run.selections)
        if run.source == "request":
            if run.request is None:
                raise _fail("request", "is required: paste a whole CDS Hooks request")
            if run.request.get("hook") not in HOOKS:
                raise _fail("request.hook", f"must be one of {', '.join(HOOKS)}")
            return render_tokens(run.request, today)
        if not run.fhirServer or not run.patientId:
            raise _fail("fhirServer" if not run.fhirServer else "patientId", "is required with a FHIR server")
        return request_for_fhir_server(run.fhirServer, run.patientId, hook=run.hook, drafts=drafts,
                                       selections=run.selections, today=today)
    except InputError as exc:
        raise _fail(run.source, str(exc)) from None


def presentable(response: JSON) -> dict[str, str]:
    """card uuid -> its detail as HTML (markdown rendered on the server, raw HTML disabled)."""
    return {card["uuid"]: render_markdown(card.get("detail", "")) for card in response.get("cards", [])}
