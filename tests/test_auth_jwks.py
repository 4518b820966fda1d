"""Keys fetched over HTTP: `jwks_url`, the `jku` allowlist, re-fetch on an unknown kid, and its rate bound.

The key server is a local http.server on 127.0.0.1 that counts its requests.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.auth.jwks import JwksCache
from cds_service.settings import Settings
from tests.support.auth_tokens import (
    BASE_URL,
    EHR_ISS,
    JwksServer,
    claims,
    es384_key,
    jwks_server,
    mint,
    rs384_key,
    write_clients,
)

__all__ = ["jwks_server"]  # the fixture, imported for pytest

DISCOVERY = "/cds-services"


def make_client(tmp_path: Path, entry: dict[str, Any], **overrides: Any) -> TestClient:
    write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "algorithms": ["ES384", "RS384"], **entry}])
    settings = Settings(
        auth_mode="required",
        trusted_clients=tmp_path / "clients.json",
        database_url=f"sqlite:///{tmp_path / 'jwks.db'}",
        public_base_url=BASE_URL,
        **overrides,
    )
    return TestClient(create_app(settings))


def status(client: TestClient, token: str) -> int:
    return client.get(DISCOVERY, headers={"Authorization": f"Bearer {token}"}).status_code


def test_keys_fetched_from_jwks_url_once(tmp_path: Path, jwks_server: JwksServer) -> None:
    jwks_server.keys = [es384_key().public_jwk()]
    with make_client(tmp_path, {"jwks_url": jwks_server.url}) as client:
        assert status(client, mint(es384_key(), claims(DISCOVERY))) == 200
        assert status(client, mint(es384_key(), claims(DISCOVERY))) == 200
    assert jwks_server.hits == 1


def test_unknown_kid_triggers_a_refetch(tmp_path: Path, jwks_server: JwksServer) -> None:
    jwks_server.keys = [es384_key().public_jwk()]
    with make_client(tmp_path, {"jwks_url": jwks_server.url}, jwks_min_refetch_seconds=0) as client:
        assert status(client, mint(es384_key(), claims(DISCOVERY))) == 200
        jwks_server.keys.append(rs384_key().public_jwk())  # the EHR rotates in a new key
        assert status(client, mint(rs384_key(), claims(DISCOVERY))) == 200
    assert jwks_server.hits == 2


def test_refetch_rate_is_bounded(tmp_path: Path, jwks_server: JwksServer) -> None:
    jwks_server.keys = [es384_key().public_jwk()]
    with make_client(tmp_path, {"jwks_url": jwks_server.url}, jwks_min_refetch_seconds=60) as client:
        assert status(client, mint(es384_key(), claims(DISCOVERY))) == 200
        # A burst of made-up kids: within 60 s of the last fetch none of them reaches the key server.
        for i in range(10):
            assert status(client, mint(es384_key(f"made-up-{i}"), claims(DISCOVERY))) == 401
        jwks_server.keys.append(rs384_key().public_jwk())
        assert status(client, mint(rs384_key(), claims(DISCOVERY))) == 401
    assert jwks_server.hits == 1


def test_jku_in_allowlist_is_honoured(tmp_path: Path, jwks_server: JwksServer) -> None:
    jwks_server.keys = [es384_key().public_jwk()]
    with make_client(tmp_path, {"jku_allowlist": [jwks_server.url]}) as client:
        assert status(client, mint(es384_key(), claims(DISCOVERY), jku=jwks_server.url)) == 200
    assert jwks_server.hits == 1


def test_jku_outside_allowlist_is_never_fetched(tmp_path: Path, jwks_server: JwksServer) -> None:
    jwks_server.keys = [es384_key().public_jwk()]
    elsewhere = jwks_server.url.replace("/.well-known/jwks.json", "/attacker/jwks.json")
    with make_client(tmp_path, {"jku_allowlist": [jwks_server.url]}) as client:
        assert status(client, mint(es384_key(), claims(DISCOVERY), jku=elsewhere)) == 401
        # No jku and no other key source: nothing to verify with.
        assert status(client, mint(es384_key(), claims(DISCOVERY))) == 401
    assert jwks_server.hits == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_refetches_after_the_interval_and_refreshes_stale_sets() -> None:
    fetches: list[str] = []
    sets = {"keys": [{"kid": "a", "kty": "EC"}]}

    def fetch(url: str, timeout: float) -> Any:
        fetches.append(url)
        return sets

    clock = FakeClock()
    cache = JwksCache(timeout=1, min_refetch_seconds=60, max_age_seconds=3600, clock=clock, fetch_json=fetch)
    assert cache.key("u", "a") == {"kid": "a", "kty": "EC"}
    assert cache.key("u", "b") is None and len(fetches) == 1  # too soon to re-fetch
    clock.now += 59
    assert cache.key("u", "b") is None and len(fetches) == 1
    sets["keys"].append({"kid": "b", "kty": "EC"})
    clock.now += 1
    assert cache.key("u", "b") == {"kid": "b", "kty": "EC"} and len(fetches) == 2
    assert cache.key("u", "a") is not None and len(fetches) == 2  # known kid: served from the cache
    # After max_age the set is refreshed even for a known kid, so a removed key stops working.
    sets["keys"] = [{"kid": "b", "kty": "EC"}]
    clock.now += 3600
    assert cache.key("u", "a") is None and len(fetches) == 3


def test_failed_refetch_keeps_the_old_keys() -> None:
    fetches: list[str] = []
    answers: list[Any] = [{"keys": [{"kid": "a"}]}, ValueError("not JSON")]

    def fetch(url: str, timeout: float) -> Any:
        fetches.append(url)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = FakeClock()
    cache = JwksCache(timeout=1, min_refetch_seconds=60, max_age_seconds=100, clock=clock, fetch_json=fetch)
    assert cache.key("u", "a") == {"kid": "a"}
    clock.now += 200
    assert cache.key("u", "a") == {"kid": "a"} and len(fetches) == 2


# --- a hostile key server: the fetch timeout bounds the whole download, and any failure is a bare 401 -------

JWKS_TIMEOUT = 1.0
MARGIN = 0.5


def _key_server_answer(**answer: Any) -> Any:
    from tests.support.gathering_stub_server import Answer

    body = {"keys": [es384_key().public_jwk()]}
    return lambda path, base: Answer(body=body, content_type="application/json", **answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"trickle": 0.5},  # one byte every half second: no single read ever times out
        {"delay": 3.0},  # the first byte after 3 s
        {"delay": 3600.0},  # never
        {"status": 500},
        {"status": 302},
        {"body": "<html>maintenance</html>"},
        {"body": b"\xff\xfe not utf-8"},
        {"body": {"keys": "not a list"}},
        {"body": "x" * 300_000},  # over the size limit
    ],
    ids=["trickle", "slow-first-byte", "never", "500", "redirect", "html", "bad-bytes", "no-keys", "too-large"],
)
def test_a_failing_key_server_gives_a_bare_401_within_the_bound(
    tmp_path: Path, answer: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.gathering_stub_server import stub_fhir_server

    caplog.set_level(logging.WARNING, logger="cds_service.auth")
    with stub_fhir_server(_key_server_answer(**answer)) as key_server:
        url = key_server.base_url + "/.well-known/jwks.json"
        with make_client(tmp_path, {"jwks_url": url}, jwks_fetch_timeout_seconds=JWKS_TIMEOUT) as client:
            started = time.monotonic()
            response = client.get(DISCOVERY, headers={"Authorization": f"Bearer {mint(es384_key(), claims(DISCOVERY))}"})
            elapsed = time.monotonic() - started
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert elapsed < JWKS_TIMEOUT + MARGIN, f"the call took {elapsed:.2f} s"
    assert any("could not fetch the JWK Set" in record.getMessage() for record in caplog.records)


def test_a_slow_key_server_within_the_bound_is_fine(tmp_path: Path) -> None:
    from tests.support.gathering_stub_server import stub_fhir_server

    with stub_fhir_server(_key_server_answer(delay=0.2)) as key_server:
        url = key_server.base_url + "/.well-known/jwks.json"
        with make_client(tmp_path, {"jwks_url": url}, jwks_fetch_timeout_seconds=JWKS_TIMEOUT) as client:
            assert status(client, mint(es384_key(), claims(DISCOVERY))) == 200


def test_the_key_download_fits_in_the_hook_call_deadline(tmp_path: Path) -> None:
    """A hook call's deadline starts before authentication: a key server that never answers holds the call
    for the call's deadline (here shorter than CDS_JWKS_FETCH_TIMEOUT_SECONDS), not for the download timeout."""
    from tests.support.gathering_stub_server import stub_fhir_server

    hook_url = "/cds-services/foot-calcification-patient-view"
    deadline, download_timeout = 0.5, 5.0
    with stub_fhir_server(_key_server_answer(delay=3600.0)) as key_server:
        url = key_server.base_url + "/.well-known/jwks.json"
        with make_client(tmp_path, {"jwks_url": url}, jwks_fetch_timeout_seconds=download_timeout,
                         call_deadline_seconds=deadline) as client:
            started = time.monotonic()
            response = client.post(hook_url, json={}, headers={"Authorization": f"Bearer {mint(es384_key(), claims(hook_url))}"})
            elapsed = time.monotonic() - started
    assert response.status_code == 401
    assert elapsed < deadline + MARGIN < download_timeout, f"the call took {elapsed:.2f} s"
