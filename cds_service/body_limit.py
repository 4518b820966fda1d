"""Refuse request bodies the service will not read, before anything parses them.

- A POST whose Content-Type is not a JSON type answers 415. A browser may send `text/plain` (or a form)
  cross-origin without a CORS preflight; accepting it would let any web page make a user's browser post
  to the service. Accepted: `application/json`, `application/fhir+json` and any other `+json` type, with
  parameters, the charset (if given) being UTF-8, the only encoding JSON has (RFC 8259).
- A body over the size limit answers 413, whether it declares its length or arrives chunked.
- A body sent with `Content-Encoding: gzip` (or `deflate`, zlib-wrapped as HTTP means it) is decoded here,
  as it arrives, and the app sees the decoded body without that header. The limit holds for the body as
  sent and for the body decoded: a decompression bomb answers 413 once its output passes the limit, never
  inflated whole. A body that is not valid data of its encoding answers 400; any other encoding 415.
- A client that goes away while sending its body gets nothing more: the app is never called for it.
"""

from __future__ import annotations

import json
import logging
import re
import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cds_service.http")

__all__ = ["BodyLimitsMiddleware", "is_json_media_type"]

_JSON_TYPE = re.compile(r"^(application/json|[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*\+json)$")
_UTF8 = ("utf-8", "utf8")
# Content-Encoding -> zlib `wbits`: gzip framing (RFC 1952), zlib framing (HTTP's "deflate", RFC 9110 8.4.1.2).
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
_IDENTITY = "identity"


class _BadEncoding(Exception):
    """The body is not valid data of its Content-Encoding."""


class _Decoder:
    """Decodes a body chunk by chunk, never producing more than `limit` + 1 bytes in all."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self._inflate = zlib.decompressobj(_DECODERS[coding])
        self._limit = limit
        self.size = 0
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> bool:
        """False as soon as the decoded body passes the limit."""
        try:
            out = self._inflate.decompress(data, self._limit - self.size + 1)
        except zlib.error:
            raise _BadEncoding from None
        self.size += len(out)
        if self.size > self._limit:
            return False
        self._parts.append(out)
        if self._inflate.unused_data:
            raise _BadEncoding  # bytes after the end of the stream (or a second gzip member): not one body
        return True

    def body(self) -> bytes:
        if not self._inflate.eof:
            raise _BadEncoding  # truncated
        return b"".join(self._parts)


def _codings(values: list[str]) -> list[str]:
    """The Content-Encoding codings, in the order applied, identity left out."""
    return [c for value in values for c in (p.strip().lower() for p in value.split(",")) if c and c != _IDENTITY]


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
        self._unknown_encoding = _json_answer(
            415, "unsupported_media_type",
            "Content-Encoding must be gzip, deflate or identity, and at most one of gzip or deflate",
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
        encodings = []
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send, self._too_large)
                return
            if name == b"content-type":
                content_types.append(value.decode("latin-1"))
            elif name == b"content-encoding":
                encodings.append(value.decode("latin-1"))
        if scope["method"] == "POST" and (len(content_types) != 1 or not is_json_media_type(content_types[0])):
            await self._refuse(send, self._not_json)
            return
        decoder = None
        if encodings:
            codings = _codings(encodings)
            if len(codings) > 1 or (codings and codings[0] not in _DECODERS):
                await self._refuse(send, self._unknown_encoding)
                return
            if codings:
                decoder = _Decoder(codings[0], self.max_bytes)
                # The app reads the decoded body: neither its encoding nor its encoded length applies to it.
                scope = {**scope, "headers": [
                    (name, value) for name, value in scope["headers"]
                    if name not in (b"content-encoding", b"content-length")
                ]}

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
            if decoder is None:
                chunks.append(body)
            else:
                try:
                    within = decoder.feed(body)
                except _BadEncoding:
                    await self._refuse(send, self._bad_encoding(decoder.coding))
                    return
                if not within:
                    log.info("%s: %s body decodes to more than %d bytes; refused", scope["method"], decoder.coding,
                             self.max_bytes)
                    await self._refuse(send, self._too_large)
                    return
            if not message.get("more_body", False):
                break
        if decoder is not None and received:
            try:
                chunks = [decoder.body()]
            except _BadEncoding:
                await self._refuse(send, self._bad_encoding(decoder.coding))
                return
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive), send)

    @staticmethod
    def _bad_encoding(coding: str) -> tuple[int, bytes]:
        return _json_answer(400, "invalid_request", f"request body is not valid {coding} data (Content-Encoding: {coding})")


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
