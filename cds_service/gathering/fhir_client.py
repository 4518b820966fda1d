"""Calls to the EHR's FHIR server for the prefetch keys the client did not send (async, httpx).

Every missing key of a hook call is fetched at once, at most `max_parallel` requests of that call in flight.
Nothing but the sockets is shared between calls: no thread pool, no connection-count limit, so a FHIR server
that trickles its answers holds only the calls that asked it, each until its own deadline. Every request
has a (connect, read) timeout, cut to what is left of the call's deadline, and the deadline itself ends
whatever is still running (a server sending one byte every half second never times a read out). Searches
follow Bundle `next` links up to `max_pages` pages, and only on the server's own origin (the bearer token
must not travel to a host the request did not name). Pages are bounded in bytes, JSON values and entries
(`limits.py`) before and after they are parsed.

Failures become `FetchFailed` with a short reason made for a 412 body: it never holds a URL (URLs carry the
patient id), a token, or text from the server's answer. No log line of this module or of httpx/httpcore
carries a URL either (`quiet_http_library_logs`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import httpx

from cds_service.gathering import limits
from cds_service.gathering.deadline import Deadline

__all__ = [
    "FHIR_JSON",
    "OUTCOMES",
    "FetchFailed",
    "FetchResult",
    "FhirClient",
    "RequestObserver",
    "next_link",
    "quiet_http_library_logs",
]

log = logging.getLogger("cds_service.gathering")

FHIR_JSON = "application/fhir+json"
ACCEPT = f"{FHIR_JSON}, application/json;q=0.9"
USER_AGENT = "foot-calcification-cds/0.1"
# A read answered 404/410 means the resource does not exist: no data, not a failure.
GONE_STATUSES = frozenset({404, 410})
# Idle connections kept per client for reuse (a TLS handshake to the EHR costs more than the query).
KEEPALIVE_CONNECTIONS = 64
KEEPALIVE_SECONDS = 30.0
# The kernel receive buffer of each FHIR connection. The event loop reads whatever the kernel holds, wanted
# or not, so a server sending faster than a call reads (a page of megabytes on every key) would otherwise
# fill memory ahead of the byte budgets: measured with 7 MB pages on 14 keys, 98 MiB traced at peak with the
# kernel's autotuned buffers, 25 MiB with this one. 256 KiB (Linux doubles it) still moves 10 MB/s over a
# 50 ms round trip.
RECEIVE_BUFFER_BYTES = 256 * 1024
SOCKET_OPTIONS = [(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)]
# How long cancelled requests get to close their connections once the deadline passed (no I/O is awaited:
# a shielded close of a plain or TLS socket takes microseconds; this only bounds the unexpected).
CANCEL_GRACE_SECONDS = 0.25
# The outcome labels `on_request` receives, one per HTTP request. Never a URL, an id or a status text.
OUTCOMES = ("ok", "not_found", "http_error", "timeout", "unreachable", "invalid", "too_large", "deadline", "cancelled")

JSON = dict[str, Any]
RequestObserver = Callable[[str, float], None]  # (outcome label, seconds)


class FetchFailed(Exception):
    """A query could not be answered. `reason` is safe to show the caller (no URL, no token, no id)."""

    def __init__(self, reason: str, outcome: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One key's answer: the resource read, or every page of a search (`not_found`: a read found nothing)."""

    pages: tuple[JSON, ...]
    not_found: bool = False


@dataclass(slots=True)
class _Call:
    """What the requests of one `fetch_all` share: its connection pool, headers, deadline and budgets."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    deadline: Deadline | None
    in_flight: asyncio.Semaphore
    received_bytes: int = 0
    received_values: int = 0
    expired: bool = False  # the deadline ended what was still running


class FhirClient:
    def __init__(
        self,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        max_pages: int = 10,
        max_parallel: int = 24,
        on_request: RequestObserver | None = None,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError(
                f"connect_timeout and read_timeout must be positive, got {connect_timeout} and {read_timeout}"
            )
        if max_pages < 1 or max_parallel < 1:
            raise ValueError(f"max_pages and max_parallel must be at least 1, got {max_pages} and {max_parallel}")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_pages = max_pages
        self.max_parallel = max_parallel
        self.on_request = on_request
        # An httpx client belongs to the event loop that first used it. The service runs one loop; tools and
        # tests may run one `asyncio.run` after another: a new loop gets a new client, and the old one is left
        # to the garbage collector (its loop is gone, so it cannot be awaited; calls still using it keep it).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._lock = threading.Lock()
        self._closed = False
        quiet_http_library_logs()

    def __repr__(self) -> str:
        return (
            f"FhirClient(timeout=({self.connect_timeout}, {self.read_timeout}), max_pages={self.max_pages}, "
            f"max_parallel={self.max_parallel})"
        )

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise RuntimeError("FhirClient is closed")
            if self._client is None or self._loop is not loop:
                self._loop, self._client = loop, httpx.AsyncClient(
                    transport=_transport(),
                    mounts=_proxy_mounts(),
                    follow_redirects=False,
                    # httpx reads no .netrc unless asked, so nothing replaces the token.
                    trust_env=True,
                    headers={"Accept": ACCEPT, "User-Agent": USER_AGENT},
                )
            return self._client

    async def fetch_all(
        self,
        base_url: str,
        queries: Mapping[str, str],
        *,
        access_token: str | None = None,
        continuations: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> dict[str, FetchResult | FetchFailed]:
        """Runs every `key -> relative query` at once; each key gets its result or its `FetchFailed`.

        `continuations` maps a key to the absolute `next` link of a Bundle the client prefetched: its further
        pages are fetched (on the FHIR server's own origin only), not its first. When `deadline` passes, what
        is still running is cancelled and its keys fail with the deadline's reason.
        """
        jobs = [(key, query, False) for key, query in queries.items()]
        jobs += [(key, url, True) for key, url in (continuations or {}).items()]
        if not jobs:
            return {}
        headers = {} if access_token is None else {"Authorization": f"Bearer {access_token}"}
        call = _Call(self._http(), headers, deadline, asyncio.Semaphore(self.max_parallel))
        tasks = {
            key: asyncio.create_task(self._fetch(call, base_url, key, target, continued))
            for key, target, continued in jobs
        }
        for task in tasks.values():
            # Marked retrieved when done: asyncio may log a failure no one awaited (the caller was cancelled,
            # or the grace below ran out) as "Task exception was never retrieved", with its traceback.
            task.add_done_callback(_retrieve)
        pending: set[asyncio.Task[FetchResult]] = set()
        try:
            _, pending = await asyncio.wait(tasks.values(), timeout=None if deadline is None else deadline.remaining())
            if pending:
                call.expired = True
                for task in pending:
                    task.cancel()
                # Cancelled requests close their connections and report to `on_request`.
                await asyncio.wait(pending, timeout=CANCEL_GRACE_SECONDS)
        finally:
            for task in tasks.values():
                task.cancel()  # the caller was cancelled (its client left): nothing may outlive it
        results: dict[str, FetchResult | FetchFailed] = {}
        for key, task in tasks.items():
            if task in pending:
                assert deadline is not None
                log.warning("prefetch key %s: the call's deadline ended the fetch", key)
                results[key] = FetchFailed(deadline.reason, "deadline")
                continue
            error = task.exception()
            if error is None:
                results[key] = task.result()
            elif isinstance(error, FetchFailed):
                results[key] = error
            else:
                raise error
        return results

    async def _fetch(self, call: _Call, base_url: str, key: str, target: str, continued: bool) -> FetchResult:
        base = base_url.rstrip("/")
        origin = _origin(base)
        if continued:
            url = urljoin(f"{base}/", target)
            if _origin(url) != origin:
                raise FetchFailed("prefetch Bundle's next link points to another server than fhirServer")
        else:
            url = f"{base}/{target.lstrip('/')}"
        is_read = not continued and "?" not in target
        pages: list[JSON] = []
        entries = 0
        while True:
            body = await self._get(call, url, key, allow_gone=is_read and not pages)
            if body is None:
                return FetchResult(pages=(), not_found=True)
            pages.append(body)
            page_entries = body.get("entry")
            entries += len(page_entries) if isinstance(page_entries, list) else 0
            if entries > limits.MAX_ENTRIES_PER_KEY:
                log.warning("prefetch key %s: FHIR server answered more than %d entries", key, limits.MAX_ENTRIES_PER_KEY)
                raise FetchFailed(f"FHIR server answered more than {limits.MAX_ENTRIES_PER_KEY} entries", "too_large")
            next_url = next_link(body)
            if next_url is None:
                return FetchResult(pages=tuple(pages))
            if len(pages) >= self.max_pages:
                raise FetchFailed(f"FHIR server answered more than {self.max_pages} pages", "too_large")
            next_url = urljoin(url, next_url)  # a relative link is relative to the page that gave it
            if _origin(next_url) != origin:
                raise FetchFailed("FHIR server's next link points to another server")
            url = next_url

    async def _get(self, call: _Call, url: str, key: str, *, allow_gone: bool) -> JSON | None:
        async with call.in_flight:
            started = time.perf_counter()
            outcome = "invalid"
            try:
                body = await self._request(call, url, key, allow_gone=allow_gone)
                outcome = "ok" if body is not None else "not_found"
                return body
            except FetchFailed as failure:
                outcome = failure.outcome
                raise
            except asyncio.CancelledError:
                outcome = "deadline" if call.expired else "cancelled"
                raise
            finally:
                self._observe(outcome, time.perf_counter() - started)

    async def _request(self, call: _Call, url: str, key: str, *, allow_gone: bool) -> JSON | None:
        try:
            async with call.http.stream("GET", url, headers=call.headers, timeout=self._timeout(call)) as response:
                status = response.status_code
                log.debug("prefetch key %s: FHIR server answered %d", key, status)
                if allow_gone and status in GONE_STATUSES:
                    return None
                if status != 200:
                    log.warning("prefetch key %s: FHIR server answered %d", key, status)
                    raise FetchFailed(f"FHIR server answered {status}", "http_error")
                content = await _read_capped(response, key, call)
        except httpx.TimeoutException:
            if call.deadline is not None and call.deadline.passed:
                log.warning("prefetch key %s: the call's deadline ended the fetch", key)
                raise FetchFailed(call.deadline.reason, "deadline") from None
            log.warning("prefetch key %s: FHIR server timed out", key)
            raise FetchFailed("FHIR server timed out", "timeout") from None
        except httpx.NetworkError:  # connect, read and write errors: refused, reset, unreachable
            log.warning("prefetch key %s: FHIR server unreachable", key)
            raise FetchFailed("FHIR server could not be reached", "unreachable") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("prefetch key %s: FHIR request failed (%s)", key, type(exc).__name__)
            raise FetchFailed("FHIR request failed", "unreachable") from None
        return _parse(content, key)

    def _timeout(self, call: _Call) -> httpx.Timeout:
        """The per-request timeouts, never beyond what is left of the call's deadline."""
        if call.deadline is None:
            return httpx.Timeout(connect=self.connect_timeout, read=self.read_timeout, write=self.read_timeout,
                                 pool=None)
        left = max(call.deadline.remaining(), 0.001)
        return httpx.Timeout(connect=min(self.connect_timeout, left), read=min(self.read_timeout, left),
                             write=min(self.read_timeout, left), pool=left)

    def _observe(self, outcome: str, seconds: float) -> None:
        if self.on_request is None:
            return
        try:
            self.on_request(outcome, seconds)
        except Exception as exc:  # noqa: BLE001 - metrics must never fail a hook call
            log.error("on_request observer failed (%s)", type(exc).__name__)

    async def aclose(self) -> None:
        """Closes the pooled connections; the client refuses work afterwards."""
        with self._lock:
            self._closed = True
            loop, client, self._loop, self._client = self._loop, self._client, None, None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()

    def close(self) -> None:
        """For code without a running loop (after `asyncio.run`): the client refuses work afterwards; its
        connections close when collected (their loop is gone)."""
        with self._lock:
            self._closed = True
            self._loop, self._client = None, None


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _transport(proxy: str | None = None) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(
        # No cap on connections: a cap is a queue that a slow server fills for everyone.
        limits=httpx.Limits(
            max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS, keepalive_expiry=KEEPALIVE_SECONDS
        ),
        # Hospitals trust their FHIR servers' certificates through SSL_CERT_FILE / SSL_CERT_DIR.
        trust_env=True,
        proxy=proxy,
        socket_options=SOCKET_OPTIONS,
    )


def _proxy_mounts() -> dict[str, httpx.AsyncBaseTransport | None]:
    """HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, read as httpx reads them (hospitals reach their FHIR
    servers through proxies). httpx skips them for a client given its own transport, as this one is."""
    settings = getproxies()
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for scheme in ("http", "https", "all"):
        proxy = settings.get(scheme)
        if proxy:
            mounts[f"{scheme}://"] = _transport(proxy if "://" in proxy else f"http://{proxy}")
    for host in (name.strip() for name in settings.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        if "://" in host:
            mounts[host] = None  # None: the client's own transport, no proxy
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            mounts[f"all://[{host}]" if address.version == 6 else f"all://{host}"] = None
        elif host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        else:
            mounts[f"all://*{host}"] = None  # the domain and its subdomains
    return mounts


async def _read_capped(response: httpx.Response, key: str, call: _Call) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.MAX_PAGE_BYTES:
        raise _too_large(key, f"FHIR server answered a page over the size limit ({limits.MAX_PAGE_BYTES} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():  # decoded: a compressed page is measured as it will be held
        size += len(chunk)
        call.received_bytes += len(chunk)
        if size > limits.MAX_PAGE_BYTES:
            raise _too_large(key, f"FHIR server answered a page over the size limit ({limits.MAX_PAGE_BYTES} bytes)")
        if call.received_bytes > limits.MAX_CALL_BYTES:
            raise _too_large(key, f"the FHIR server's answers to this call exceed {limits.MAX_CALL_BYTES} bytes")
        chunks.append(chunk)
    content = b"".join(chunks)
    call.received_values += limits.json_values(content)
    if call.received_values > limits.MAX_CALL_JSON_VALUES:
        raise _too_large(key, f"the FHIR server's answers to this call exceed {limits.MAX_CALL_JSON_VALUES} JSON values")
    return content


def _too_large(key: str, reason: str) -> FetchFailed:
    log.warning("prefetch key %s: %s", key, reason)
    return FetchFailed(reason, "too_large")


def _parse(content: bytes, key: str) -> JSON:
    try:
        body = json.loads(content)
    except RecursionError:
        log.warning("prefetch key %s: FHIR server answered JSON nested too deeply", key)
        raise FetchFailed("FHIR server answered JSON nested too deeply to read") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        log.warning("prefetch key %s: FHIR server answered invalid JSON", key)
        raise FetchFailed("FHIR server answered invalid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FetchFailed("FHIR server answered JSON that is not a FHIR resource")
    if body["resourceType"] == "OperationOutcome":
        raise FetchFailed("FHIR server answered an OperationOutcome", "http_error")
    return body


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def next_link(bundle: JSON) -> str | None:
    if bundle.get("resourceType") != "Bundle":
        return None
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


# Loggers of the HTTP libraries. httpx logs every request's URL at INFO, httpcore and urllib3 log more at
# DEBUG, and a FHIR URL carries the patient id.
HTTP_LIBRARY_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


class _WithholdRequestDetails(logging.Filter):
    """Drops the HTTP libraries' records below WARNING; keeps of the others only their logger and level.

    A filter on the logger itself holds whatever level, handler or configuration a deployment chooses (the
    levels set below are only the cheap first line: no record is even created).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        record.msg = "%s logged a %s record; its text is withheld (it may quote a FHIR URL)"
        record.args = (record.name, record.levelname)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_FILTER = _WithholdRequestDetails()


def quiet_http_library_logs() -> None:
    """Idempotent: no record of httpx, httpcore or urllib3 can carry a URL (or anything else) to the log."""
    for name in HTTP_LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for name in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
