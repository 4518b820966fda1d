"""A FHIR Bulk Data Access (IG 2.0.0) `$export` client: kick-off, polling, download into a folder the screen
reads as a file export (`FileExport`), and `DELETE` of the job.

    client = BulkClient("https://ehr.example/fhir", token=token)
    status_url = client.kick_off(group=None, since=None)      # Patient/$export, or Group/[id]/$export
    folder_export = client.export_to(folder, status_url)      # polls, downloads, deletes the job

Downloading into a folder (with a `manifest.json` naming the local files) rather than streaming is a choice:
the screen's workers open their files themselves (process pool or Dask), a folder is what `--resume` and the
file mode already read, and no worker ever holds the token. Why each rule below: the IG's kick-off,
status and file-request sections.

The token is sent only to the server's own origin, and to file URLs only when the manifest's
`requiresAccessToken` is true (false means capability URLs). It never reaches a log or an error message:
errors name the origin and path of a URL, never its query (presigned URLs carry credentials there).
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from cds_service.screening.source import FileExport

__all__ = ["BulkClient", "BulkError", "display_url", "pathway_types"]

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
# Retries of one request (429, 5xx, `transient` OperationOutcomes, dropped connections): a server that fails
# this often is down, and the run says so (exit 3) rather than spinning all night. Local default.
MAX_RETRIES = 6
# A Retry-After longer than this is capped: a typo'd header must not park the run for a day. Local default.
MAX_WAIT_SECONDS = 300.0
# Without Retry-After (Medplum gives none) polling backs off exponentially from FIRST_WAIT to MAX_BACKOFF.
FIRST_WAIT_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
# Parallel downloads: servers throttle clients that open many connections; 4 keeps a 2-core screen busy.
PARALLEL_DOWNLOADS = 4
POLL_TIMEOUT_SECONDS = 24 * 3600.0
REQUEST_TIMEOUT = (10.0, 300.0)  # (connect, read) seconds
# An expired file link is replaced from a freshly polled manifest at most this often per file. Local default.
EXPIRED_LINK_REFRESHES = 2


class BulkError(RuntimeError):
    """The export could not be run or read; the message names the step and the URL's origin/path only."""


class _ExpiredLink(Exception):
    """A file answered 401/403/404/410: its link has expired (or was never valid)."""


def _entry_url(manifest: dict[str, Any], key: str, number: int) -> str:
    entries = manifest.get(key) or []
    entry = entries[number] if isinstance(entries, list) and number < len(entries) else None
    url = entry.get("url") if isinstance(entry, dict) else None
    if not isinstance(url, str):
        raise BulkError(f"manifest: {key}[{number}] is gone from the polled manifest")
    return url


def pathway_types() -> tuple[str, ...]:
    """The resource types the pathway's prefetch queries read: the `_type` of the kick-off (an export of
    every type would be mostly claims and vital signs nobody reads)."""
    from cds_service.services import prefetch_templates

    types = {template.split("?", 1)[0].split("/", 1)[0] for _key, template in prefetch_templates()}
    return tuple(sorted(types))


def display_url(url: str) -> str:
    """A URL as errors and logs may show it: origin and path, no query (presigned URLs hold secrets there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.netloc.rsplit("@", 1)[-1]).lower()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_WAIT_SECONDS))


def _transient(response: requests.Response) -> bool:
    """An OperationOutcome whose issues are all `transient` (the IG: retry, the job has not failed)."""
    try:
        body = response.json()
    except ValueError:
        return False
    issues = body.get("issue") if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    return bool(issues) and all(isinstance(i, dict) and i.get("code") == "transient" for i in issues)


def _outcome_text(response: requests.Response) -> str:
    try:
        body = response.json()
        texts = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code")
                 for i in body.get("issue", [])]
        return "; ".join(str(t) for t in texts if t)[:300]
    except (ValueError, AttributeError):
        return ""


@dataclass
class Progress:
    """What the export has done so far, for a progress line: the server's X-Progress and the downloads."""

    server: str | None = None
    files_done: int = 0
    files_total: int = 0


class BulkClient:
    def __init__(self, base_url: str, *, token: str | Callable[[], str] | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, first_wait: float = FIRST_WAIT_SECONDS,
                 max_retries: int = MAX_RETRIES, parallel: int = PARALLEL_DOWNLOADS,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = session or requests.Session()
        self._sleep = sleep
        self._first_wait = first_wait
        self._max_retries = max_retries
        self._parallel = max(1, parallel)
        self._on_progress = on_progress
        self.progress = Progress()
        self._refresh_lock = threading.Lock()
        self._latest: dict[str, Any] | None = None

    def __repr__(self) -> str:  # never the token
        return f"BulkClient({display_url(self.base_url)!r})"

    # --- requests -------------------------------------------------------------------------------------
    def _headers(self, url: str, *, token: bool, extra: dict[str, str]) -> dict[str, str]:
        headers = dict(extra)
        if token and self._token and _origin(url) == _origin(self.base_url):
            # A callable is a token provider (SMART Backend Services): asked per request, so it can refresh.
            value = self._token() if callable(self._token) else self._token
            headers["Authorization"] = f"Bearer {value}"
        return headers

    def _request(self, method: str, url: str, *, token: bool = True, stream: bool = False,
                 headers: dict[str, str] | None = None, redirects: bool = False) -> requests.Response:
        """One request, retried (bounded) on 429, 5xx, a `transient` OperationOutcome or a dropped
        connection, waiting Retry-After when given, else backing off exponentially."""
        wait = self._first_wait
        for attempt in range(self._max_retries + 1):
            try:
                response = self._http.request(method, url, headers=self._headers(url, token=token, extra=headers or {}),
                                              stream=stream, timeout=REQUEST_TIMEOUT, allow_redirects=redirects)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = f"{type(exc).__name__}"
                response = None
            else:
                retry = response.status_code == 429 or response.status_code >= 500 or (
                    response.status_code >= 400 and _transient(response))
                if not retry:
                    return response
                failure = f"HTTP {response.status_code}"
            if attempt == self._max_retries:
                break
            pause = (_retry_after(response) if response is not None else None)
            pause = wait if pause is None else pause
            log.info("bulk %s %s: %s, retry %d in %.1f s", method, display_url(url), failure, attempt + 1, pause)
            if response is not None:
                response.close()
            self._sleep(pause)
            wait = min(wait * 2, MAX_BACKOFF_SECONDS)
        raise BulkError(f"{method} {display_url(url)}: {failure} after {self._max_retries + 1} attempts")

    # --- the three steps ------------------------------------------------------------------------------
    def kick_off(self, *, group: str | None = None, system: bool = False, since: str | None = None,
                 types: tuple[str, ...] | None = None) -> str:
        """Starts the export; returns the status URL (`Content-Location`)."""
        path = f"Group/{group}/$export" if group else "$export" if system else "Patient/$export"
        params = {"_type": ",".join(types if types is not None else pathway_types())}
        if since:
            params["_since"] = since
        url = f"{self.base_url}/{path}?{urlencode(params, safe=',:')}"
        response = self._request("GET", url, headers={"Accept": FHIR_JSON, "Prefer": "respond-async"})
        if response.status_code != 202:
            detail = _outcome_text(response)
            raise BulkError(f"kick-off {display_url(url)}: HTTP {response.status_code}" + (f": {detail}" if detail else ""))
        location = response.headers.get("Content-Location")
        if not location or not urlsplit(location).scheme:
            raise BulkError(f"kick-off {display_url(url)}: 202 without an absolute Content-Location")
        log.info("bulk export started: status at %s", display_url(location))
        return location

    def wait(self, status_url: str, *, timeout: float = POLL_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Polls until the manifest; Retry-After when the server gives one, else exponential back-off."""
        waited = 0.0
        backoff = self._first_wait
        while True:
            response = self._request("GET", status_url, headers={"Accept": "application/json"})
            if response.status_code == 200:
                try:
                    manifest = response.json()
                except ValueError:
                    raise BulkError(f"status {display_url(status_url)}: the manifest is not JSON") from None
                if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
                    raise BulkError(f"status {display_url(status_url)}: the manifest has no output array")
                return manifest
            if response.status_code != 202:
                detail = _outcome_text(response)
                raise BulkError(f"status {display_url(status_url)}: HTTP {response.status_code}"
                                + (f": {detail}" if detail else ""))
            self.progress.server = (response.headers.get("X-Progress") or "")[:100] or None
            self._report()
            pause = _retry_after(response)
            if pause is None:
                pause, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            if waited + pause > timeout:
                raise BulkError(f"status {display_url(status_url)}: not complete after {timeout:.0f} s")
            self._sleep(pause)
            waited += pause

    def download(self, manifest: dict[str, Any], folder: Path, status_url: str | None = None) -> None:
        """Every output[], error[] and deleted[] file into `folder` (in parallel, capped), then a manifest.json
        naming the local files: the folder is an export the file mode reads. With `status_url`, a file link
        that has expired (401/403/404/410: presigned URLs expire) is taken from a freshly polled manifest."""
        folder.mkdir(parents=True, exist_ok=True)
        with_token = manifest.get("requiresAccessToken") is True
        jobs: list[tuple[str, int, str, Path]] = []  # (key, position, url, local path)
        local: dict[str, list[dict[str, Any]]] = {"output": [], "error": [], "deleted": []}
        for key in ("output", "error", "deleted"):
            entries = manifest.get(key) or []
            if not isinstance(entries, list):
                raise BulkError(f"manifest: {key!r} is not an array")
            for number, entry in enumerate(entries):
                url = entry.get("url") if isinstance(entry, dict) else None
                if not isinstance(url, str) or not urlsplit(url).scheme:
                    raise BulkError(f"manifest: {key}[{number}] has no absolute url")
                if with_token and _origin(url) != _origin(self.base_url):
                    # The token is for this server only; a file elsewhere that needs it is not fetched.
                    raise BulkError(f"manifest: {key}[{number}] on {_origin(url)[1]} needs the access token, "
                                    "which is only sent to the FHIR server's origin")
                kind = entry.get("type") if isinstance(entry.get("type"), str) else (
                    "Bundle" if key == "deleted" else "OperationOutcome")
                name = f"{len(jobs):05d}.{kind}.ndjson"
                jobs.append((key, number, url, folder / name))
                local[key].append({**entry, "url": name})
        self.progress.files_total = len(jobs)
        self._report()
        with ThreadPoolExecutor(max_workers=self._parallel) as pool:
            for _ in pool.map(lambda job: self._fetch_current(job, manifest, status_url, with_token), jobs):
                self.progress.files_done += 1
                self._report()
        written = {**manifest, **local}
        (folder / "manifest.json").write_text(json.dumps(written, indent=1) + "\n")

    def _fetch_current(self, job: tuple[str, int, str, Path], manifest: dict[str, Any], status_url: str | None,
                       with_token: bool) -> None:
        key, number, url, path = job
        for refresh in range(EXPIRED_LINK_REFRESHES + 1):
            try:
                return self._fetch(url, path, with_token)
            except _ExpiredLink as expired:
                if status_url is None or refresh == EXPIRED_LINK_REFRESHES:
                    raise BulkError(f"file {display_url(url)}: HTTP {expired.args[0]}: the link has expired or is "
                                    "refused, also after polling for fresh links") from None
            url = self._fresh_url(status_url, manifest, key, number, url)
        return None

    def _fresh_url(self, status_url: str, manifest: dict[str, Any], key: str, number: int, failed: str) -> str:
        """The entry's URL in the newest manifest; polled again only when the failed URL is the newest's
        (parallel downloads whose links expired together share one new manifest)."""
        with self._refresh_lock:
            latest = self._latest or manifest
            url = _entry_url(latest, key, number)
            if url == failed:
                log.info("bulk file link expired: polling %s for fresh links", display_url(status_url))
                self._latest = latest = self.wait(status_url)
                url = _entry_url(latest, key, number)
            if latest.get("requiresAccessToken") is True and _origin(url) != _origin(self.base_url):
                raise BulkError(f"manifest: {key}[{number}] moved to {_origin(url)[1]} and needs the access token")
            return url

    def _fetch(self, url: str, path: Path, with_token: bool) -> None:
        # requests decodes the gzip it asked for: the file is written as plain NDJSON. A file may redirect to
        # storage (requests drops the Authorization header when a redirect leaves the host).
        response = self._request("GET", url, token=with_token, stream=True, redirects=True,
                                 headers={"Accept": "application/fhir+ndjson", "Accept-Encoding": "gzip"})
        with response:
            if response.status_code in (401, 403, 404, 410):
                raise _ExpiredLink(response.status_code)
            if response.status_code != 200:
                raise BulkError(f"file {display_url(url)}: HTTP {response.status_code}")
            partial = path.with_name(path.name + ".part")
            with partial.open("wb") as handle:
                for chunk in response.iter_content(1 << 16):
                    handle.write(chunk)
            partial.replace(path)

    def delete(self, status_url: str) -> None:
        """Tells the server the files are no longer needed (a failure is logged: the screen is done)."""
        try:
            response = self._request("DELETE", status_url)
        except BulkError as exc:
            log.warning("bulk export not deleted: %s", exc)
            return
        if response.status_code not in (200, 202, 204, 404):
            log.warning("bulk export not deleted: DELETE %s: HTTP %d", display_url(status_url), response.status_code)

    def fetch_to(self, folder: Path, status_url: str) -> dict[str, Any]:
        """Polls `status_url` to completion, downloads into `folder`, deletes the job; returns the manifest."""
        manifest = self.wait(status_url)
        self.download(manifest, folder, status_url)
        self.delete(status_url)
        return manifest

    def export_to(self, folder: Path, status_url: str) -> tuple[FileExport, dict[str, Any]]:
        """`fetch_to`, and the folder as the FileExport the screen reads."""
        manifest = self.fetch_to(folder, status_url)
        return FileExport([str(folder)]), manifest

    def _report(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress)
