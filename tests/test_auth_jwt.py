"""JWT verification through the real app: what a trusted EHR sends passes, every kind of bad token gets a
bare 401 with `WWW-Authenticate: Bearer`, the reason is logged, and the token itself is never logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.support.auth_tokens import (
    BASE_URL,
    EHR_ISS,
    TENANT_ISS,
    SigningKey,
    claims,
    es384_key,
    hs256_with_public_key,
    mint,
    mint_raw,
    rs384_key,
    unsigned_token,
    write_clients,
)

DISCOVERY = "/cds-services"
FEEDBACK = "/cds-services/foot-calcification-patient-view/feedback"
HOOK = "/cds-services/foot-calcification-patient-view"


def auth_settings(tmp_path: Path, **overrides: Any) -> Settings:
    clients = write_clients(
        tmp_path / "trusted-clients.json",
        [
            {"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk(), rs384_key().public_jwk()]},
             "algorithms": ["ES384", "RS384"]},
            {"iss": TENANT_ISS, "jwks": {"keys": [es384_key("tenant-es").public_jwk()]}, "tenant": "hospital-a",
             "algorithms": ["ES384"]},
        ],
    )
    values: dict[str, Any] = {
        "auth_mode": "required",
        "trusted_clients": clients,
        "database_url": f"sqlite:///{tmp_path / 'auth.db'}",
        "public_base_url": BASE_URL,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(auth_settings(tmp_path))) as test_client:
        yield test_client


def get(client: TestClient, token: str | None, path: str = DISCOVERY, *, raw: str | None = None) -> Any:
    headers = {}
    if raw is not None:
        headers["Authorization"] = raw
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def assert_bare_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "unauthorized", "message": "unauthorized"}


@pytest.mark.parametrize("key", [es384_key(), rs384_key()], ids=["ES384", "RS384"])
def test_trusted_token_is_accepted(client: TestClient, key: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = mint(key, claims(DISCOVERY))
    response = get(client, token)
    assert response.status_code == 200
    assert response.json()["services"]
    assert token not in caplog.text


def test_feedback_and_service_calls_need_a_token_too(client: TestClient) -> None:
    assert_bare_401(client.post(FEEDBACK, json={"feedback": []}))
    assert_bare_401(client.post(HOOK, json={}))
    token = mint(es384_key(), claims(FEEDBACK))
    # Authenticated: the feedback body is now judged (empty batch -> 400), so the token passed.
    assert client.post(FEEDBACK, json={"feedback": []}, headers={"Authorization": f"Bearer {token}"}).status_code == 400


def test_pathway_pages_stay_public(client: TestClient) -> None:
    assert client.get("/pathway").status_code != 401


def test_token_within_clock_skew_is_accepted(client: TestClient) -> None:
    now = time.time()
    late = claims(DISCOVERY, now=now - 330, lifetime=300)  # expired 30 s ago, inside the 60 s allowance
    early = claims(DISCOVERY, now=now + 30)  # issued 30 s "in the future"
    assert get(client, mint(es384_key(), late)).status_code == 200
    assert get(client, mint(es384_key(), early)).status_code == 200


def test_tenant_client_with_its_tenant_is_accepted(client: TestClient) -> None:
    token = mint(es384_key("tenant-es"), claims(DISCOVERY, iss=TENANT_ISS, tenant="hospital-a"))
    assert get(client, token).status_code == 200


def _bad_tokens() -> dict[str, tuple[str, str]]:
    """name -> (token, the reason the log must give)."""
    es, now = es384_key(), time.time()
    stranger = es384_key("stranger")
    return {
        # Signed by another key that claims the trusted key's kid.
        "bad signature": (mint(SigningKey("es-1", "ES384", stranger.private), claims(DISCOVERY)),
                          "signature does not verify"),
        "unknown kid": (mint(stranger, claims(DISCOVERY)), "no key with kid 'stranger'"),
        "wrong aud": (mint(es, claims(DISCOVERY, aud=BASE_URL + "/cds-services/other")), "is not the URL called"),
        "aud of another host": (mint(es, claims(DISCOVERY, aud="https://elsewhere.example/cds-services")),
                                "is not the URL called"),
        "wrong iss": (mint(es, claims(DISCOVERY, iss="https://untrusted.example")), "is not a trusted client"),
        "wrong tenant": (mint(es384_key("tenant-es"), claims(DISCOVERY, iss=TENANT_ISS, tenant="hospital-b")),
                         "tenant does not match"),
        "missing tenant": (mint(es384_key("tenant-es"), claims(DISCOVERY, iss=TENANT_ISS)), "tenant does not match"),
        "expired": (mint(es, claims(DISCOVERY, now=now - 400, lifetime=300)), "expired"),
        "future iat": (mint(es, claims(DISCOVERY, now=now + 300)), "in the future"),
        "lifetime too long": (mint(es, claims(DISCOVERY, lifetime=7200)), "exceeds"),
        "alg none": (unsigned_token(claims(DISCOVERY), "es-1"), "alg 'none' refused"),
        "HS256 keyed with the public key": (hs256_with_public_key(es, claims(DISCOVERY)), "alg 'HS256' refused"),
        "typ not JWT": (mint(es, claims(DISCOVERY), typ="at+jwt"), "typ must be 'JWT'"),
        "no kid": (mint(es, claims(DISCOVERY), kid=None), "has no kid"),
        "no jti": (mint(es, claims(DISCOVERY, jti=None)), "'jti'"),
        "no exp": (mint(es, claims(DISCOVERY, exp=None)), "'exp'"),
        "no iat": (mint(es, claims(DISCOVERY, iat=None)), "'iat'"),
        "jku not allowlisted": (mint(es, claims(DISCOVERY), jku="https://attacker.example/jwks.json"),
                                "not in the jku allowlist"),
        # Points at the RSA key while declaring ES384 (and signing with an EC key).
        "RS384 key with ES384 header": (mint(SigningKey("rs-1", "ES384", es.private), claims(DISCOVERY)),
                                        "key 'rs-1' is for RS384"),
    }


@pytest.mark.parametrize("name", sorted(_bad_tokens()))
def test_bad_token_gets_bare_401(client: TestClient, name: str, caplog: pytest.LogCaptureFixture) -> None:
    token, reason = _bad_tokens()[name]  # built now: the time-sensitive ones must not age during the run
    caplog.set_level(logging.INFO, logger="cds_service")
    assert_bare_401(get(client, token))
    assert reason in caplog.text
    assert not [segment for segment in token.split(".") if segment and segment in caplog.text]


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b", "Bearer a.b.c",
     "Bearer two tokens.x.y", "Token abc.def.ghi"],
)
def test_malformed_authorization_header(client: TestClient, header: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cds_service")
    assert_bare_401(get(client, None, raw=header))
    assert "malformed" in caplog.text


def test_missing_authorization_header(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cds_service")
    assert_bare_401(get(client, None))
    assert "missing Authorization header" in caplog.text


def test_replayed_jti_is_refused(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cds_service")
    token = mint(es384_key(), claims(DISCOVERY))
    assert get(client, token).status_code == 200
    assert_bare_401(get(client, token))
    assert "jti already used" in caplog.text
    assert token not in caplog.text


def test_rejected_token_does_not_use_up_its_jti(client: TestClient) -> None:
    payload = claims(DISCOVERY)
    assert_bare_401(get(client, mint(es384_key(), {**payload, "aud": BASE_URL + "/elsewhere"})))
    assert get(client, mint(es384_key(), payload)).status_code == 200


def test_same_jti_from_two_issuers_are_two_tokens(client: TestClient) -> None:
    jti = "shared-jti-value"
    assert get(client, mint(es384_key(), claims(DISCOVERY, jti=jti))).status_code == 200
    token = mint(es384_key("tenant-es"), claims(DISCOVERY, iss=TENANT_ISS, tenant="hospital-a", jti=jti))
    assert get(client, token).status_code == 200


def test_replay_is_caught_across_two_app_instances(tmp_path: Path) -> None:
    """Two workers (two apps, two engines) on one database share the jti cache."""
    settings = auth_settings(tmp_path)
    token = mint(es384_key(), claims(DISCOVERY))
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        assert get(first, token).status_code == 200
        assert_bare_401(get(second, token))


def test_algorithm_not_configured_for_client_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_clients(tmp_path / "only-es.json", [{"iss": EHR_ISS, "jwks": {"keys": [rs384_key().public_jwk()]},
                                               "algorithms": ["ES384"]}])
    settings = auth_settings(tmp_path, trusted_clients=tmp_path / "only-es.json")
    caplog.set_level(logging.INFO, logger="cds_service")
    with TestClient(create_app(settings)) as client:
        assert_bare_401(get(client, mint(rs384_key(), claims(DISCOVERY))))
    assert "alg RS384 is not one of ['ES384']" in caplog.text


def _odd_tokens() -> dict[str, str]:
    """Well-signed tokens with values of the wrong type: each must be a 401, never a 500."""
    es = es384_key()
    return {
        "jku not a string": mint(es, claims(DISCOVERY), jku=["https://a.example/jwks.json"]),
        "exp as a numeric string": mint(es, {**claims(DISCOVERY), "exp": str(int(time.time()) + 300)}),
        "iat as text": mint_raw(es, {**claims(DISCOVERY), "iat": "yesterday"}),
        "jti a number": mint_raw(es, claims(DISCOVERY, jti=12345)),
        "iss a list": mint_raw(es, claims(DISCOVERY, iss=[EHR_ISS])),
        "aud a number": mint_raw(es, claims(DISCOVERY, aud=42)),
        "very long iss": mint(es, claims(DISCOVERY, iss="https://x.example/" + "a" * 5000)),
        "payload not an object": mint(es, {"iss": EHR_ISS}).split(".")[0] + "." + "WzEsMiwzXQ" + ".c2ln",
    }


@pytest.mark.parametrize("name", sorted(_odd_tokens()))
def test_odd_claim_types_get_401_not_500(client: TestClient, name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cds_service")
    assert_bare_401(get(client, _odd_tokens()[name]))
    assert max(len(record.getMessage()) for record in caplog.records) < 600  # attacker text is cut short


def test_two_authorization_headers_are_refused(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """Even two valid tokens: which one a proxy or a log read is unknowable, so neither is trusted."""
    caplog.set_level(logging.INFO, logger="cds_service")
    first, second = mint(es384_key(), claims(DISCOVERY)), mint(es384_key(), claims(DISCOVERY))
    response = client.get(DISCOVERY, headers=[("Authorization", f"Bearer {first}"),
                                              ("Authorization", f"Bearer {second}")])
    assert_bare_401(response)
    assert "2 Authorization headers; exactly one is accepted" in caplog.text
    assert first not in caplog.text and second not in caplog.text
    assert get(client, first).status_code == 200  # refused before any jti was used up
