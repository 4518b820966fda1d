"""JWK Sets fetched from URLs (`jwks_url`, allowlisted `jku`), cached, and re-fetched at a bounded rate.

A token with an unknown `kid` triggers a re-fetch (the client may have rotated its key), but at most once
per `min_refetch_seconds` per URL: a stream of tokens with made-up kids cannot make this service hammer
the client's key server. A set older than `max_age_seconds` is refreshed on next use so that a removed key
stops working; if that refresh fails the old set is kept and the failure logged.

A download has `timeout` seconds in all, from connecting to its last byte: a key server that answers slowly,
or trickles its set, holds the (unauthenticated) call no longer than that. Any failure leaves the kid
unknown, so the token gets a bare 401, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["JwksCache", "JwksFetchError", "MAX_JWKS_BYTES"]

log = logging.getLogger("cds_service.auth")

MAX_JWKS_BYTES = 256 * 1024  # a JWK Set is a few kB; refuse to buffer anything much larger


class JwksFetchError(Exception):
    pass


@dataclass
class _Entry:
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # kid -> JWK
    fetched_at: float | None = None  # monotonic time of the last successful fetch
    attempted_at: float | None = None  # monotonic time of the last attempt, successful or not
    lock: threading.Lock = field(default_factory=threading.Lock)


async def _download(url: str, timeout: float) -> bytes:
    # asyncio.timeout bounds the whole download; httpx's own timeouts bound each read only.
    async with asyncio.timeout(timeout):
        # No redirects: a trusted URL must not send the service to one nobody configured (or to plain http).
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise JwksFetchError(f"the key server answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksFetchError(f"the JWK Set is larger than {MAX_JWKS_BYTES} bytes")
    return bytes(body)


def _http_get_json(url: str, timeout: float) -> Any:
    """The JSON at `url`, downloaded within `timeout` seconds in all.

    Token checks run in a worker thread (a sync dependency), which has no event loop: the download gets a
    short one of its own. Called from a running loop, it runs in a thread of its own instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return json.loads(asyncio.run(_download(url, timeout)))
    with ThreadPoolExecutor(1, thread_name_prefix="jwks-fetch") as runner:
        return json.loads(runner.submit(asyncio.run, _download(url, timeout)).result())


class JwksCache:
    def __init__(
        self,
        *,
        timeout: float,
        min_refetch_seconds: float,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        fetch_json: Callable[[str, float], Any] = _http_get_json,
    ) -> None:
        self._timeout = timeout
        self._min_refetch = min_refetch_seconds
        self._max_age = max_age_seconds
        self._clock = clock
        self._fetch_json = fetch_json
        self._entries: dict[str, _Entry] = {}
        self._entries_lock = threading.Lock()
        self.fetch_count = 0  # successful and failed fetches, for the operators' curiosity and the tests

    def _entry(self, url: str) -> _Entry:
        with self._entries_lock:
            return self._entries.setdefault(url, _Entry())

    def key(self, url: str, kid: str, *, budget_seconds: float | None = None) -> dict[str, Any] | None:
        """The JWK with this `kid` from the set at `url`, fetching the set when needed and allowed.

        `budget_seconds` (what is left of the hook call's deadline) bounds the wait for another request's
        download of the same set and this request's own download, below the configured timeout."""
        timeout = self._timeout if budget_seconds is None else max(0.0, min(self._timeout, budget_seconds))
        entry = self._entry(url)
        # One fetch per URL at a time; others wait (within their budget) and then read its result.
        if not entry.lock.acquire(timeout=timeout):
            log.warning("JWK Set of %s: another request's download did not end within %g s", url, timeout)
            return None
        try:
            now = self._clock()
            stale = entry.fetched_at is None or now - entry.fetched_at >= self._max_age
            if kid in entry.keys and not stale:
                return entry.keys[kid]
            may_fetch = entry.attempted_at is None or now - entry.attempted_at >= self._min_refetch
            if may_fetch:
                self._refresh(url, entry, now, timeout)
            elif kid not in entry.keys:
                log.info("kid %r not in the JWK Set of %s; not re-fetching yet (rate limit)", kid[:100], url)
            return entry.keys.get(kid)
        finally:
            entry.lock.release()

    def _refresh(self, url: str, entry: _Entry, now: float, timeout: float) -> None:
        entry.attempted_at = now
        self.fetch_count += 1
        try:
            document = self._fetch_json(url, timeout)
            keys = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(keys, list):
                raise JwksFetchError("not a JWK Set (no 'keys' array)")
        except Exception as exc:  # noqa: BLE001 - whatever the key server did, the token gets a bare 401
            log.warning("could not fetch the JWK Set at %s: %s", url, _problem(exc, timeout))
            return
        entry.keys = {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}
        entry.fetched_at = now
        log.info("fetched the JWK Set at %s: %d key(s)", url, len(entry.keys))


def _problem(exc: Exception, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no complete answer within {timeout:g} s"
    if isinstance(exc, (JwksFetchError, json.JSONDecodeError)):
        return str(exc)
    # An HTTP library's message can be long (and quote headers); its type says enough.
    return type(exc).__name__
