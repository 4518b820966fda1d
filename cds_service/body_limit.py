"""Refuse request bodies the service will not read, before anything parses them.

- A POST whose Content-Type is not a JSON type answers 415. A browser may send `text/plain` (or a form)
  cross-origin without a CORS preflight; accepting it would let any web page make a user's browser post
  to the service. Accepted: `application/json`, `application/fhir+json` and any other `+json` type, with
  parameters, the charset (if given) being UTF-8, the only encoding JSON has (RFC 8259).
- A body over the size limit answers 413, whether it declares its length or arrives chunked.
- A client that goes away while sending its body gets nothing more: the app is never called for it.
"""

from __future__ import annotations

import json
import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cds_service.http")

__all__ = ["BodyLimitsMiddleware", "is_json_media_type"]

_JSON_TYPE = re.compile(r"^(application/json|[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*\+json)$")
_UTF8 = ("utf-8", "utf8")


def is_json_media_type(content_type: str) -> bool:
    """`application/json; charset=utf-8`, `application/fhir+json` and the like: a JSON type, UTF-8 if said."""
    media_type, *parameters = content_type.split(";")
    if not _JSON_TYPE.match(media_type.strip().lower()):
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            return False
    return True


def _json_answer(status: int, error: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": error, "message": message}).encode()


class BodyLimitsMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._too_large = _json_answer(413, "payload_too_large", f"request body is over the limit of {max_bytes} bytes")
        self._not_json = _json_answer(
            415, "unsupported_media_type",
            "Content-Type must be application/json (or another JSON type, such as application/fhir+json), UTF-8",
        )

    async def _refuse(self, send: Send, answer: tuple[int, bytes]) -> None:
        status, body = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_types = []
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send, self._too_large)
                return
            if name == b"content-type":
                content_types.append(value.decode("latin-1"))
        if scope["method"] == "POST" and (len(content_types) != 1 or not is_json_media_type(content_types[0])):
            await self._refuse(send, self._not_json)
            return

        # A chunked body has no Content-Length: read it here, counting, and replay it to the app.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client has gone: there is no one to answer, and no work to do for it. Not an error.
                # (No path: a client can put anything in one; the access line names the route.)
                log.info("%s: the client closed the connection before sending the whole body; dropped", scope["method"])
                return
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_bytes:
                await self._refuse(send, self._too_large)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
