"""`/fhir/...`: the pathway's CPG-on-FHIR artifact (read and search) and `PlanDefinition/{id}/$apply`.

Reads are public, like the node pages (the artifact holds no patient data). `$apply` evaluates a patient's
record exactly as a hook call does (`cds_service.invocation.evaluate_call`), so it needs the same caller
authentication as the hooks. Every error is a FHIR OperationOutcome.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from cds_service.errors import ServiceError
from cds_service.invocation import DATA_ISSUES_EXTENSION, DATA_ISSUES_NOT_LISTED_EXTENSION, Invocation, evaluate_call
from cds_service.protocol.parse import parse_json
from cds_service.publication.apply import ApplyError, care_plan, hook_request
from cds_service.publication.artifact import BUNDLE_ID, PATHWAY_ID, STRATEGY_ID, Artifact, build_artifact
from cds_service.publication.urls import FHIR_PREFIX
from cds_service.routes.security import call_deadline, require_caller
from cds_service.services import SERVICES

__all__ = ["FHIR_JSON", "artifact_of", "router"]

router = APIRouter(prefix=FHIR_PREFIX)

FHIR_JSON = "application/fhir+json"
_SEARCH_PARAMS = ("url", "version", "_id")


class FhirResponse(Response):
    media_type = FHIR_JSON


def _documented(description: str) -> dict[str, Any]:
    return {"description": description, "content": {FHIR_JSON: {"schema": {"type": "object"}}}}


def _error_body(description: str) -> dict[str, Any]:
    # What the body-limit middleware and the authentication answer (errors.py's ErrorBody), before this route.
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


_READ = {200: _documented("the resource (FHIR R4 JSON)"), 404: _documented("an OperationOutcome: no resource with this id")}
_SEARCH = {200: _documented("a searchset Bundle"), 400: _documented("an OperationOutcome: an unsupported search parameter")}
_APPLY = {
    200: _documented("a CarePlan containing the RequestGroup of the evaluation"),
    400: _documented("an OperationOutcome naming the parameter that is wrong"),
    401: _error_body("no valid JWT from a trusted EHR (WWW-Authenticate: Bearer)"),
    404: _documented("an OperationOutcome: no PlanDefinition with this id"),
    412: _documented("an OperationOutcome: the record could not be had from the named FHIR server"),
    413: _error_body("the body is over CDS_MAX_BODY_BYTES"),
    415: _error_body("the Content-Type is not a JSON type"),
}


def artifact_of(state: Any) -> Artifact:
    """The artifact of the app's pathway configuration, generated on first use and kept."""
    artifact = getattr(state, "fhir_artifact", None)
    if artifact is None:
        artifact = build_artifact(state.pathway)
        state.fhir_artifact = artifact
    return artifact


def _fhir(body: Any, status: int = 200) -> Response:
    return FhirResponse(orjson.dumps(body), status_code=status)


def _outcome(status: int, code: str, message: str) -> Response:
    return _fhir({"resourceType": "OperationOutcome",
                  "issue": [{"severity": "error", "code": code, "diagnostics": message}]}, status)


def _base(request: Request) -> str:
    return f"{request.app.state.settings.public_base_url.rstrip('/')}{FHIR_PREFIX}"


def _search(request: Request, resource_type: str) -> Response:
    params = list(request.query_params.multi_items())
    unknown = sorted({name for name, _ in params if name not in _SEARCH_PARAMS})
    if unknown:
        return _outcome(400, "not-supported", f"search parameter(s) {', '.join(unknown)} not supported; use {', '.join(_SEARCH_PARAMS)}")
    found = [r for r in artifact_of(request.app.state).resources if r["resourceType"] == resource_type]
    for name, value in params:
        key = "id" if name == "_id" else name
        found = [r for r in found if r.get(key) == value]
    base = _base(request)
    return _fhir({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [{"fullUrl": f"{base}/{resource_type}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in found],
    })


def _read(request: Request, resource_type: str, resource_id: str) -> Response:
    found = artifact_of(request.app.state).find(resource_type, resource_id)
    if found is None:
        listed = [r["id"] for r in artifact_of(request.app.state).resources if r["resourceType"] == resource_type]
        return _outcome(404, "not-found", f"no {resource_type} with id '{resource_id[:64]}'; ids: {', '.join(listed)}")
    return _fhir(found)


@router.get("/PlanDefinition", response_model=None, response_class=FhirResponse, responses=_SEARCH)
def search_plan_definitions(request: Request) -> Response:
    return _search(request, "PlanDefinition")


@router.get("/PlanDefinition/{resource_id}", response_model=None, response_class=FhirResponse, responses=_READ)
def read_plan_definition(resource_id: str, request: Request) -> Response:
    return _read(request, "PlanDefinition", resource_id)


@router.get("/ActivityDefinition", response_model=None, response_class=FhirResponse, responses=_SEARCH)
def search_activity_definitions(request: Request) -> Response:
    return _search(request, "ActivityDefinition")


@router.get("/ActivityDefinition/{resource_id}", response_model=None, response_class=FhirResponse, responses=_READ)
def read_activity_definition(resource_id: str, request: Request) -> Response:
    return _read(request, "ActivityDefinition", resource_id)


@router.get("/Library", response_model=None, response_class=FhirResponse, responses=_SEARCH)
def search_libraries(request: Request) -> Response:
    return _search(request, "Library")


@router.get("/Library/{resource_id}", response_model=None, response_class=FhirResponse, responses=_READ)
def read_library(resource_id: str, request: Request) -> Response:
    return _read(request, "Library", resource_id)


@router.get("/Bundle/{bundle_id}", response_model=None, response_class=FhirResponse, responses=_READ)
def read_bundle(bundle_id: str, request: Request) -> Response:
    if bundle_id != BUNDLE_ID:
        return _outcome(404, "not-found", f"no Bundle with id '{bundle_id[:64]}'; the artifact is Bundle/{BUNDLE_ID}")
    return _fhir(artifact_of(request.app.state).bundle())


class _NotRecorded:
    """$apply answers a plan, not cards shown in an EHR: nothing is recorded for feedback."""

    def record_issued_cards(self, **_: Any) -> None:
        return None


@router.post("/PlanDefinition/{resource_id}/$apply", dependencies=[Depends(require_caller)], response_model=None,
             response_class=FhirResponse, responses=_APPLY,
             openapi_extra={"requestBody": {"required": True, "content": {
                 FHIR_JSON: {"schema": {"type": "object", "description": "a FHIR R4 Parameters resource"}},
                 "application/json": {"schema": {"type": "object"}}}}})
async def apply_plan_definition(resource_id: str, request: Request) -> Response:
    state = request.app.state
    artifact = artifact_of(state)
    plan = artifact.find("PlanDefinition", resource_id)
    if plan is None:
        return _outcome(404, "not-found", f"no PlanDefinition with id '{resource_id[:64]}'")
    try:
        parameters = parse_json(await request.body())
        applied = hook_request(parameters)
    except ApplyError as exc:
        return _outcome(400, "invalid", str(exc))
    except ServiceError as exc:  # the body is not JSON
        return _outcome(exc.status_code, "invalid", exc.message)
    service = next(s for s in SERVICES if s.hook == applied.hook)
    call = Invocation(
        service=service,
        public_base_url=state.settings.public_base_url,
        fhir_client=state.fhir_client,
        pathway=state.pathway,
        recorder=_NotRecorded(),
        card_ids=state.card_ids,
        snooze=None,  # a plan lists every applicable recommendation; snoozing is about re-interrupting a clinician
        deadline_seconds=state.settings.call_deadline_seconds,
    )
    try:
        evaluation = await evaluate_call(call, applied.body, deadline=call_deadline(request))
    except ServiceError as exc:
        # 412 when the FHIR server could not give the record, 400 for a request the hook would refuse.
        code = "invalid" if exc.status_code == 400 else "exception"
        return _outcome(exc.status_code, code, exc.message)
    cards = evaluation.response["cards"]
    if resource_id not in (PATHWAY_ID, STRATEGY_ID):
        cards = [card for card in cards if card["source"]["topic"]["code"] == resource_id]
    extension = evaluation.response.get("extension") or {}
    return _fhir(care_plan(
        plan, artifact, cards=cards, results=evaluation.results, patient_id=evaluation.patient_id,
        encounter=applied.encounter, config=state.pathway, hook_instance=evaluation.hook_instance,
        data_issues=tuple(extension.get(DATA_ISSUES_EXTENSION, ())),
        issues_not_listed=int(extension.get(DATA_ISSUES_NOT_LISTED_EXTENSION, 0)),
    ))

