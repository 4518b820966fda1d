"""The service's errors, and their one translation into HTTP answers.

Every error body is JSON: `{"error": <kind>, "message": <one line>, ...}`. Messages name the field and the
problem, never the offending value: request values can be patient identifiers or tokens.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.ops.metrics import observe_prefetch_unavailable

__all__ = [
    "BadRequest",
    "DataUnavailable",
    "ServiceError",
    "UnhandledErrorMiddleware",
    "install_error_handlers",
    "issues_from_validation_error",
    "store_error_kind",
]

log = logging.getLogger("cds_service")


class ServiceError(Exception):
    status_code = 500
    kind = "internal_error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, **self.extra}


class BadRequest(ServiceError):
    status_code = 400
    kind = "invalid_request"

    def __init__(self, issues: list[dict[str, str]]) -> None:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{first['field']}: {first['problem']}{more}", issues=issues)


class DataUnavailable(ServiceError):
    """Required prefetch data could not be had: 412 Precondition Failed, as the spec names."""

    status_code = 412
    kind = "prefetch_unavailable"

    def __init__(self, missing: dict[str, str]) -> None:
        keys = ", ".join(sorted(missing))
        super().__init__(f"required data could not be obtained for prefetch key(s): {keys}", missing=missing)


def _field(loc: tuple[Any, ...], prefix: tuple[str, ...] = ()) -> str:
    parts: list[str] = list(prefix)
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item not in ("body", "function-after", "function-before"):
            parts.append(str(item))
    return ".".join(parts) or "(body)"


def issues_from_validation_error(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Pydantic errors as {field, problem}; `input` is dropped so no value reaches the client."""
    issues = []
    errors = error.errors(include_input=False, include_url=False)
    deeper = {tuple(item["loc"][:n]) for item in errors for n in range(len(item["loc"]))}
    for item in errors:
        if item["type"] == "too_short" and tuple(item["loc"]) in deeper:
            continue  # an item inside failed, and pydantic then counts the container as too short: noise
        problem = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            problem = "is required"
        elif item["type"] == "extra_forbidden":
            problem = "is not allowed"
        loc = tuple(item["loc"])
        # A model-level check names its field as "field: problem" (pydantic gives it no location).
        head, sep, rest = problem.partition(": ")
        if sep and head.isidentifier():
            loc, problem = (*loc, head), rest
        issues.append({"field": _field(loc, prefix), "problem": problem})
    return issues


def store_error_kind(exc: BaseException) -> Literal["unavailable", "data", "bug"]:
    """What a database error means for the client.

    `unavailable`: the database cannot be reached or cannot work now (connection refused or lost, pool
    exhausted, SQLite locked or its disk failing): 503, a retry may succeed. `data`: the database refused
    a value of the request (PostgreSQL's NUL in text, a value out of a column's range, a constraint): the
    client's 400, since the same request will fail forever. Anything else (SQL the database does not
    understand, a missing table) is our bug: 500.
    """
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError | DisconnectionError):
        return "unavailable"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "unavailable"
    if isinstance(exc, DataError | IntegrityError | UnicodeEncodeError):
        return "data"
    return "bug"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        if isinstance(exc, DataUnavailable):
            observe_prefetch_unavailable(exc.extra["missing"])  # 412s by reason, for /metrics
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(SQLAlchemyError)
    async def _store_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Only the exception's type is logged: its text quotes the SQL parameters, i.e. request values.
        kind = store_error_kind(exc)
        if kind == "unavailable":
            # The store (jti cache, feedback) is out of reach: a retry may succeed, so 503, not 500.
            log.error("store unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            body = {"error": "store_unavailable", "message": "the service's database is unavailable; retry later"}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        if kind == "data":
            # The database refused a value: retrying the same request can never succeed (a poison message).
            log.warning("store refused the data on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            issue = {"field": "(body)", "problem": f"holds a value the database cannot store ({type(exc).__name__})"}
            return JSONResponse(BadRequest([issue]).body(), status_code=400)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("store error %s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames)
        return JSONResponse({"error": "internal_error", "message": "internal error; see the service log"}, 500)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"field": _field(tuple(e.get("loc", ()))), "problem": str(e.get("msg", "is invalid"))}
            for e in exc.errors()
        ]
        return JSONResponse(BadRequest(issues).body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        body = {"error": kinds.get(exc.status_code, "http_error"), "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


class UnhandledErrorMiddleware:
    """Answers any unhandled exception with a JSON 500 and logs its type and frames; a client that
    disconnected is logged in one quiet line, as what it is.

    Starlette's own handler re-raises after answering, so the server would log the exception message too,
    which may quote a request value; this one stops it here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # Not an error of ours: the client went away before its request was read. Nobody to answer.
            log.info("client disconnected before its request was read: %s %s", scope["method"], scope["path"])
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unhandled %s on %s %s\n%s", type(exc).__name__, scope["method"], scope["path"], frames)
            if not started:
                response = JSONResponse({"error": "internal_error", "message": "internal error; see the service log"}, 500)
                await response(scope, receive, send)
