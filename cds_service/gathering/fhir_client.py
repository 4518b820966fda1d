"""Calls to the EHR's FHIR server for the prefetch keys the client did not send.

One pooled `requests.Session` per service (its pool sized to `max_parallel`) and one bounded thread pool run
every missing key of a hook call at once. Each call has a (connect, read) timeout; searches follow Bundle
`next` links up to `max_pages` pages, and only on the server's own origin (the bearer token must not travel
to a host the request did not name).

Failures become `FetchFailed` with a short reason made for a 412 body: it never holds a URL (URLs carry the
patient id), a token, or text from the server's answer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter

__all__ = ["FHIR_JSON", "MAX_PAGE_BYTES", "FetchFailed", "FetchResult", "FhirClient", "next_link"]

log = logging.getLogger("cds_service.gathering")

FHIR_JSON = "application/fhir+json"
ACCEPT = f"{FHIR_JSON}, application/json;q=0.9"
USER_AGENT = "foot-calcification-cds/0.1"
# One page is read into memory; a server sending more is refused rather than trusted (hundreds of
# resources are well under 5 MB).
MAX_PAGE_BYTES = 32 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# A read answered 404/410 means the resource does not exist: no data, not a failure.
GONE_STATUSES = frozenset({404, 410})

JSON = dict[str, Any]


class FetchFailed(Exception):
    """A query could not be answered. `reason` is safe to show the caller (no URL, no token, no id)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One key's answer: the resource read, or every page of a search (`not_found`: a read found nothing)."""

    pages: tuple[JSON, ...]
    not_found: bool = False


class FhirClient:
    def __init__(
        self,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        max_pages: int = 10,
        max_parallel: int = 8,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError(
                f"connect_timeout and read_timeout must be positive, got {connect_timeout} and {read_timeout}"
            )
        if max_pages < 1 or max_parallel < 1:
            raise ValueError(f"max_pages and max_parallel must be at least 1, got {max_pages} and {max_parallel}")
        self.timeout = (connect_timeout, read_timeout)
        self.max_pages = max_pages
        self.max_parallel = max_parallel
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=max_parallel, pool_maxsize=max_parallel, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # trust_env stays on: hospitals reach their FHIR servers through HTTPS_PROXY and private CAs
        # (REQUESTS_CA_BUNDLE). Every call passes its own `auth`, so a .netrc entry never replaces the token.
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"FhirClient(timeout={self.timeout}, max_pages={self.max_pages}, max_parallel={self.max_parallel})"

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("FhirClient is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_parallel, thread_name_prefix="fhir-fetch")
            return self._executor

    def fetch_all(
        self,
        base_url: str,
        queries: Mapping[str, str],
        *,
        access_token: str | None = None,
        continuations: Mapping[str, str] | None = None,
    ) -> dict[str, FetchResult | FetchFailed]:
        """Runs every `key -> relative query` at once; each key gets its result or its `FetchFailed`.

        `continuations` maps a key to the absolute `next` link of a Bundle the client prefetched: its further
        pages are fetched (on the FHIR server's own origin only), not its first.
        """
        jobs = [(key, query, False) for key, query in queries.items()]
        jobs += [(key, url, True) for key, url in (continuations or {}).items()]
        if not jobs:
            return {}
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        auth = _Bearer(access_token)
        pool = self._pool()
        futures: dict[str, Future[FetchResult]] = {
            key: pool.submit(self._fetch, base_url, key, target, headers, auth, continued)
            for key, target, continued in jobs
        }
        results: dict[str, FetchResult | FetchFailed] = {}
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except FetchFailed as failure:
                results[key] = failure
        return results

    def _fetch(
        self, base_url: str, key: str, target: str, headers: dict[str, str], auth: _Bearer, continued: bool
    ) -> FetchResult:
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
        while True:
            body = self._get(url, key, headers, auth, allow_gone=is_read and not pages)
            if body is None:
                return FetchResult(pages=(), not_found=True)
            pages.append(body)
            next_url = next_link(body)
            if next_url is None:
                return FetchResult(pages=tuple(pages))
            if len(pages) >= self.max_pages:
                raise FetchFailed(f"FHIR server answered more than {self.max_pages} pages")
            next_url = urljoin(url, next_url)  # a relative link is relative to the page that gave it
            if _origin(next_url) != origin:
                raise FetchFailed("FHIR server's next link points to another server")
            url = next_url

    def _get(self, url: str, key: str, headers: dict[str, str], auth: _Bearer, *, allow_gone: bool) -> JSON | None:
        try:
            response = self._session.get(
                url, headers=headers, auth=auth, timeout=self.timeout, allow_redirects=False, stream=True
            )
            with response:
                status = response.status_code
                log.debug("prefetch key %s: FHIR server answered %d", key, status)
                if allow_gone and status in GONE_STATUSES:
                    return None
                if status != 200:
                    log.warning("prefetch key %s: FHIR server answered %d", key, status)
                    raise FetchFailed(f"FHIR server answered {status}")
                content = _read_capped(response, key)
        except requests.Timeout:
            log.warning("prefetch key %s: FHIR server timed out", key)
            raise FetchFailed("FHIR server timed out") from None
        except requests.ConnectionError:
            log.warning("prefetch key %s: FHIR server unreachable", key)
            raise FetchFailed("FHIR server could not be reached") from None
        except requests.RequestException as exc:
            log.warning("prefetch key %s: FHIR request failed (%s)", key, type(exc).__name__)
            raise FetchFailed("FHIR request failed") from None
        try:
            body = json.loads(content)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
            log.warning("prefetch key %s: FHIR server answered invalid JSON", key)
            raise FetchFailed("FHIR server answered invalid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FetchFailed("FHIR server answered JSON that is not a FHIR resource")
        if body["resourceType"] == "OperationOutcome":
            raise FetchFailed("FHIR server answered an OperationOutcome")
        return body

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self._session.close()


class _Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer <token>`, or no header at all without a token. Its repr never shows the token."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is None:
            request.headers.pop("Authorization", None)
        else:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(<token>)" if self._token is not None else "_Bearer(None)"


def _read_capped(response: requests.Response, key: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_PAGE_BYTES:
        log.warning("prefetch key %s: FHIR server page too large", key)
        raise FetchFailed(f"FHIR server answered a page over the size limit ({MAX_PAGE_BYTES} bytes)")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_PAGE_BYTES:
            log.warning("prefetch key %s: FHIR server page too large", key)
            raise FetchFailed(f"FHIR server answered a page over the size limit ({MAX_PAGE_BYTES} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


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
