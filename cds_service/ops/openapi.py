"""`GET /openapi.json`: the CDS Hooks endpoints described with the models in `protocol/`.

The hook and feedback routes read their body themselves (so a bad body answers the service's own 400
naming each field), which FastAPI cannot see. This module writes their part of the document: one path per
declared service, with that hook's request model (its `context` model included), the `CdsResponse` model,
and every error answer the service gives. Integrators and fuzzers (e.g. schemathesis) read it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from cds_service import __version__
from cds_service.protocol.feedback import FeedbackRequest
from cds_service.protocol.request import CONTEXT_MODELS, UUID_PATTERN, HookRequest
from cds_service.protocol.response import CdsResponse
from cds_service.services import SERVICES, CdsService

__all__ = ["install_openapi", "openapi_document"]

REF = "#/components/schemas/{model}"
TEMPLATED_PATHS = ("/cds-services/{service_id}", "/cds-services/{service_id}/feedback")
BEARER = [{"ehrJwt": []}]


class Issue(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every error answer: a kind, one line, and for 400s each field with its problem (never the value)."""

    error: str
    message: str
    issues: list[Issue] | None = None


class PrefetchUnavailableBody(ErrorBody):
    """412: the prefetch keys whose data could not be had, each with the reason."""

    missing: dict[str, str]


class DiscoveryService(BaseModel):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]


class DiscoveryResponse(BaseModel):
    services: list[DiscoveryService]


class FeedbackStored(BaseModel):
    stored: int = Field(description="entries in the batch, all committed")
    new: int = Field(description="entries not stored before (repeats are stored once)")


def _camel(hook: str) -> str:
    return "".join(part.capitalize() for part in hook.split("-"))


def _request_model(service: CdsService) -> type[BaseModel]:
    """The service's request: `HookRequest` with `hook` fixed and `context` the hook's context model."""
    return create_model(
        f"{_camel(service.hook)}Request",
        __base__=HookRequest,
        __doc__=f"CDS Hooks 2.0 request for the {service.hook} hook.",
        hook=(Literal[service.hook], ...),  # type: ignore[valid-type]
        hookInstance=(str, Field(pattern=UUID_PATTERN, description="a UUID for this hook invocation")),
        context=(CONTEXT_MODELS[service.hook], ...),
    )


def _json(model: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    descriptions = {
        400: "the body is not a valid request; `issues` names each field and problem",
        401: "no valid JWT from a trusted EHR (WWW-Authenticate: Bearer)",
        404: "no CDS service with this id",
        412: "required data could not be had (no fhirServer, or the FHIR server failed)",
        413: "the body is over CDS_MAX_BODY_BYTES",
        415: "the Content-Type is not a JSON type (application/json, application/fhir+json...), UTF-8",
        503: "the service's database is unavailable; retry later",
    }
    return {
        str(status): _json("PrefetchUnavailableBody" if status == 412 else "ErrorBody", descriptions[status])
        for status in statuses
    }


def _body(model: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def _service_paths(service: CdsService, request_model: str) -> dict[str, Any]:
    call = {
        "post": {
            "tags": ["CDS Hooks"],
            "operationId": f"call_{service.id.replace('-', '_')}",
            "summary": f"{service.title} ({service.hook})",
            "description": service.description,
            "security": BEARER,
            "requestBody": _body(request_model),
            "responses": {
                "200": _json("CdsResponse", "the cards (`{\"cards\": []}` for a patient outside the pathway)"),
                **_errors(400, 401, 412, 413, 415, 503),
            },
        }
    }
    feedback = {
        "post": {
            "tags": ["CDS Hooks"],
            "operationId": f"feedback_{service.id.replace('-', '_')}",
            "summary": f"Feedback on cards of {service.id}",
            "security": BEARER,
            "requestBody": _body("FeedbackRequest"),
            "responses": {
                "200": _json("FeedbackStored", "the whole batch is committed"),
                **_errors(400, 401, 413, 415, 503),
            },
        }
    }
    return {f"/cds-services/{service.id}": call, f"/cds-services/{service.id}/feedback": feedback}


def _match_the_error_handlers(paths: dict[str, Any]) -> None:
    """FastAPI documents a 422 for invalid parameters; errors.py answers those 400. The node pages answer 404
    for an unknown node, and the override-reason CodeSystem is FHIR JSON."""
    for item in paths.values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses["400"] = _json("ErrorBody", "a parameter is not valid")
    if "/pathway/{node_id}" in paths:
        paths["/pathway/{node_id}"]["get"]["responses"]["404"] = _json("ErrorBody", "no pathway node with this id")
    if "/override-reason" in paths:
        ok = paths["/override-reason"]["get"]["responses"]["200"]
        ok["content"] = {"application/fhir+json": {"schema": {"type": "object"}}}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=__version__,
        description="CDS Hooks 2.0 service: the approach to soft tissue calcifications in the foot.",
        routes=app.routes,
    )
    paths: dict[str, Any] = {path: item for path, item in document["paths"].items() if path not in TEMPLATED_PATHS}
    request_models = {service.id: _request_model(service) for service in SERVICES}
    models: list[type[BaseModel]] = [
        *request_models.values(), CdsResponse, FeedbackRequest, FeedbackStored, ErrorBody,
        PrefetchUnavailableBody, DiscoveryResponse,
    ]
    _, schemas = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    if "/cds-services" in paths:
        paths["/cds-services"]["get"].update(
            security=BEARER,
            responses={"200": _json("DiscoveryResponse", "the services and their prefetch templates"), **_errors(401)},
        )
    for service in SERVICES:
        paths.update(_service_paths(service, request_models[service.id].__name__))
    _match_the_error_handlers(paths)
    document["paths"] = paths
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(schemas.get("$defs", {}))
    components["securitySchemes"] = {
        "ehrJwt": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "a JWT signed by a trusted EHR (CDS Hooks 2.0, Trusting CDS Clients); not needed when "
            "CDS_AUTH_MODE=disabled",
        }
    }
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve this document at the app's `openapi_url` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
