"""JWK Sets fetched from URLs (`jwks_url`, allowlisted `jku`), cached, and re-fetched at a bounded rate.

A token with an unknown `kid` triggers a re-fetch (the client may have rotated its key), but at most once
per `min_refetch_seconds` per URL: a stream of tokens with made-up kids cannot make this service hammer
the client's key server. A set older than `max_age_seconds` is refreshed on next use so that a removed key
stops working; if that refresh fails the old set is kept and the failure logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

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


def _http_get_json(url: str, timeout: float) -> Any:
    with requests.get(url, timeout=timeout, stream=True, headers={"Accept": "application/json"}) as response:
        response.raise_for_status()
        body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    if len(body) > MAX_JWKS_BYTES:
        raise JwksFetchError(f"JWK Set at {url} is larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


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

    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        """The JWK with this `kid` from the set at `url`, fetching the set when needed and allowed."""
        entry = self._entry(url)
        with entry.lock:  # one fetch per URL at a time; others wait and then read its result
            now = self._clock()
            stale = entry.fetched_at is None or now - entry.fetched_at >= self._max_age
            if kid in entry.keys and not stale:
                return entry.keys[kid]
            may_fetch = entry.attempted_at is None or now - entry.attempted_at >= self._min_refetch
            if may_fetch:
                self._refresh(url, entry, now)
            elif kid not in entry.keys:
                log.info("kid %r not in the JWK Set of %s; not re-fetching yet (rate limit)", kid[:100], url)
            return entry.keys.get(kid)

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        entry.attempted_at = now
        self.fetch_count += 1
        try:
            document = self._fetch_json(url, self._timeout)
            keys = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(keys, list):
                raise JwksFetchError("not a JWK Set (no 'keys' array)")
        except (requests.RequestException, ValueError, JwksFetchError) as exc:
            # A requests error's text can be long (and quote headers); its type says enough.
            problem = type(exc).__name__ if isinstance(exc, requests.RequestException) else str(exc)
            log.warning("could not fetch the JWK Set at %s: %s", url, problem)
            return
        entry.keys = {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}
        entry.fetched_at = now
        log.info("fetched the JWK Set at %s: %d key(s)", url, len(entry.keys))
