"""Turn a request body into validated protocol models, or a `BadRequest` naming each problem."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cds_service.errors import BadRequest, issues_from_validation_error
from cds_service.protocol import json_body
from cds_service.protocol.feedback import FeedbackRequest
from cds_service.protocol.request import CONTEXT_MODELS, HookRequest, PatientViewContext

__all__ = ["parse_feedback", "parse_hook_request", "parse_json"]


def parse_json(raw: bytes) -> Any:
    """The body's JSON value (parsed once, with limits: see json_body.py), or a 400 naming the problem."""
    return json_body.loads(raw)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest([{"field": "(body)", "problem": "must be a JSON object"}])
    return body


def parse_hook_request(body: Any, expected_hook: str) -> tuple[HookRequest, PatientViewContext]:
    body = _object(body)
    issues: list[dict[str, str]] = []
    request: HookRequest | None = None
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        issues += issues_from_validation_error(exc)
    hook = body.get("hook")
    if isinstance(hook, str) and hook and hook != expected_hook:
        issues.append({"field": "hook", "problem": f"is '{hook}' but this service answers '{expected_hook}'"})
    context: PatientViewContext | None = None
    if isinstance(body.get("context"), dict):
        try:
            context = CONTEXT_MODELS[expected_hook].model_validate(body["context"])
        except ValidationError as exc:
            issues += issues_from_validation_error(exc, prefix=("context",))
    if issues:
        raise BadRequest(issues)
    assert request is not None and context is not None  # every failure above added an issue
    return request, context


def parse_feedback(body: Any) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate(_object(body))
    except ValidationError as exc:
        raise BadRequest(issues_from_validation_error(exc)) from None
