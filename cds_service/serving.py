"""How `cds-service serve` runs uvicorn, with the connection limits that keep one client from starving the rest.

uvicorn's HTTP protocol on httptools (the fast parser it picks when installed) has no header size limit,
no time limit on receiving a request (only on idle keep-alive connections), and its `limit_concurrency`
counts every open connection, so a flood of half-sent requests makes it refuse everyone. It accepts a
protocol class by import path, so `LimitedHttpToolsProtocol` below adds, per worker process:

- `CDS_MAX_HEADER_BYTES`: a request whose headers grow past it is answered 431 and closed as soon as the
  limit is crossed (a 64 MB header used to hold the event loop for seconds before auth could say 401);
- `CDS_REQUEST_READ_TIMEOUT_SECONDS`: a request must arrive whole (headers and body) within this time of
  its first byte, or of the connection for the first request (a client sending 1 byte/s, or nothing, is
  answered 408 and closed);
- `CDS_MAX_CONNECTIONS`: connections beyond it are answered 503 (Retry-After) at once and closed, before
  the process runs out of file descriptors (the soft limit is raised to fit, where the hard limit allows);
- `CDS_MAX_REQUESTS_IN_FLIGHT`: requests received whole and not yet answered; beyond it a request is
  answered 503 at once. Requests still arriving do not count, so half-sent requests cannot lock out the
  clients that send theirs.

Everything here runs in the event loop on callbacks the parser already makes: a few integer updates
and one timer per request, nothing per byte (the throughput benchmark compares against bare uvicorn).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from cds_service.settings import Settings, get_settings

__all__ = ["Limits", "LimitedHttpToolsProtocol", "raise_open_files_limit", "uvicorn_options"]

log = logging.getLogger("cds_service.serving")

PROTOCOL = "cds_service.serving:LimitedHttpToolsProtocol"
SPARE_FILE_DESCRIPTORS = 256  # for the database, the FHIR client, logs, beyond the client connections
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True, slots=True)
class Limits:
    max_header_bytes: int
    read_timeout_seconds: float
    max_connections: int
    max_requests_in_flight: int

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(settings.max_header_bytes, settings.request_read_timeout_seconds, settings.max_connections,
                   settings.max_requests_in_flight)


@lru_cache(maxsize=1)
def _limits() -> Limits:
    # Each worker process imports this module and reads the same environment `cds-service serve` checked.
    return Limits.of(get_settings())


def _answer(status: int, error: str, message: str, *extra_headers: bytes) -> bytes:
    body = json.dumps({"error": error, "message": message}).encode()
    head = [STATUS_LINE[status], b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n", *extra_headers, b"connection: close\r\n\r\n"]
    return b"".join(head) + body


_RETRY = b"retry-after: " + str(RETRY_AFTER_SECONDS).encode() + b"\r\n"
_HEADERS_TOO_LARGE = _answer(431, "request_header_fields_too_large", "request headers are over the size limit")
_TIMEOUT = _answer(408, "request_timeout", "the request did not arrive whole in time")
_TOO_MANY_CONNECTIONS = _answer(503, "service_unavailable", "too many connections; retry shortly", _RETRY)
_BUSY_BODY = json.dumps({"error": "service_unavailable", "message": "the service is at capacity; retry shortly"}).encode()
_BUSY_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BUSY_BODY)).encode()),
                 (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"connection", b"close")]


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The answer when `CDS_MAX_REQUESTS_IN_FLIGHT` requests are already being worked on (built once, above:
    it is sent when the worker is busiest)."""
    await send({"type": "http.response.start", "status": 503, "headers": list(_BUSY_HEADERS)})
    await send({"type": "http.response.body", "body": _BUSY_BODY, "more_body": False})


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above (one instance per connection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = _limits()
        self._app = self.app
        self._headers_done = False  # of the request being received
        self._header_bytes = 0
        self._read_timer: asyncio.TimerHandle | None = None
        self._in_flight = False  # this connection's request counts in the worker's in-flight total

    # Connections -----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            log.warning("connection refused (503): %d connections open, the limit is %d",
                        len(self.connections) - 1, self._limits.max_connections)
            self._close_with(_TOO_MANY_CONNECTIONS)
            return
        self._arm_read_timer()  # the first request's clock starts with the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_timer()
        self._leave_flight()
        super().connection_lost(exc)

    def _close_with(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    # Bytes and parser callbacks ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._headers_done:
            self._header_bytes += len(data)
        super().data_received(data)
        if not self._headers_done and self._header_bytes > self._limits.max_header_bytes:
            log.warning("request refused (431): headers over %d bytes", self._limits.max_header_bytes)
            self._close_with(_HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_read_timer()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._header_bytes = 0
        in_flight = getattr(self.server_state, "cds_requests_in_flight", 0)
        # uvicorn's on_headers_complete starts `self.app` for this request: the app, or the 503.
        self.app = _busy if in_flight >= self._limits.max_requests_in_flight else self._app
        if self.app is _busy:
            log.warning("request refused (503): %d requests in flight, the limit is %d",
                        in_flight, self._limits.max_requests_in_flight)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_read_timer()
        self._headers_done = False  # the next request on this connection starts with its headers
        if self.cycle is not None and not self.cycle.response_complete:
            self._enter_flight()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._leave_flight()
        super().on_response_complete()

    # The worker's count of requests received whole and not yet answered ------------------------------------

    def _enter_flight(self) -> None:
        if not self._in_flight:
            self._in_flight = True
            state = self.server_state
            state.cds_requests_in_flight = getattr(state, "cds_requests_in_flight", 0) + 1  # type: ignore[attr-defined]

    def _leave_flight(self) -> None:
        if self._in_flight:
            self._in_flight = False
            self.server_state.cds_requests_in_flight -= 1  # type: ignore[attr-defined]

    # The read timeout ------------------------------------------------------------------------------------

    def _arm_read_timer(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self._limits.read_timeout_seconds, self._read_timed_out)

    def _disarm_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        log.info("connection closed (408): request not received whole within %.0f s",
                 self._limits.read_timeout_seconds)
        answered = self._headers_done and self.cycle is not None and self.cycle.response_started
        if answered:  # the app answered early (a 413, say) while the body was still trickling in
            self.transport.close()
        else:
            self._close_with(_TIMEOUT)


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to `needed` (up to the hard limit); returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < needed:
        log.warning("open files limit is %d (hard limit %s): fewer than CDS_MAX_CONNECTIONS plus %d spare; "
                    "connections may fail before the limit answers 503", target, hard, SPARE_FILE_DESCRIPTORS)
    return target


def uvicorn_options(
    settings: Settings, *, host: str, port: int, workers: int, log_level: str, log_config: Any = None
) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`: the service's app, on the limited protocol."""
    raise_open_files_limit(settings.max_connections + SPARE_FILE_DESCRIPTORS)  # inherited by the workers
    return {
        "app": "cds_service.asgi:app",
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": log_level,
        "log_config": log_config,
        # Access logs would print request paths only, but keep them off: query strings can carry ids.
        "access_log": False,
        "proxy_headers": True,
        "http": PROTOCOL,
        "ws": "none",  # no WebSocket endpoint: no upgrade path to attack
        # uvicorn's own limit counts every open connection (half-sent ones too): ours replace it.
        "limit_concurrency": None,
        "backlog": max(2048, settings.max_connections),
    }
