"""Starting with authentication required: a missing or wrong trusted clients file stops the service with a
message that says what to fix; the shipped Sandbox entry is off by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cds_service.app import create_app
from cds_service.auth.authenticator import AllowAll, AuthConfigurationError, build_authenticator
from cds_service.auth.trusted_clients import TrustedClientsError, load_trusted_clients
from cds_service.cli import main
from cds_service.settings import Settings
from tests.support.auth_tokens import EHR_ISS, es384_key, write_clients

REPO = Path(__file__).resolve().parents[1]
SANDBOX_EXAMPLE = REPO / "deploy" / "trusted-clients.sandbox.example.json"


def required(tmp_path: Path, clients: Path | None) -> Settings:
    return Settings(auth_mode="required", trusted_clients=clients, database_url=f"sqlite:///{tmp_path / 'c.db'}")


def test_required_mode_without_trusted_clients_file_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigurationError, match="CDS_TRUSTED_CLIENTS is not set"):
        create_app(required(tmp_path, None))


def test_required_mode_with_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigurationError, match="cannot read .*nowhere.json"):
        create_app(required(tmp_path, tmp_path / "nowhere.json"))


def test_serve_refuses_to_start_without_trusted_clients(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_service.settings import get_settings

    monkeypatch.setenv("CDS_AUTH_MODE", "required")
    monkeypatch.delenv("CDS_TRUSTED_CLIENTS", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["serve", "--port", "1"]) == 2
    finally:
        get_settings.cache_clear()
    assert "CDS_TRUSTED_CLIENTS is not set" in capsys.readouterr().err


def test_disabled_mode_allows_everything(tmp_path: Path) -> None:
    authenticator = build_authenticator(Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp_path / 'd.db'}"))
    assert isinstance(authenticator, AllowAll)
    authenticator.verify(url="https://x/cds-services", authorization=None)


def test_sandbox_example_is_shipped_disabled(tmp_path: Path) -> None:
    (client,) = load_trusted_clients(SANDBOX_EXAMPLE)
    assert client.iss == "https://sandbox.cds-hooks.org"
    assert client.enabled is False
    assert client.algorithms == {"ES384"}
    assert "https://sandbox.cds-hooks.org/.well-known/jwks.json" in client.jku_allowlist
    # Named alone, it trusts nobody: the service refuses to start rather than run open or closed silently.
    with pytest.raises(AuthConfigurationError, match="no enabled client"):
        create_app(required(tmp_path, SANDBOX_EXAMPLE))


def test_sandbox_entry_starts_once_enabled(tmp_path: Path) -> None:
    document = json.loads(SANDBOX_EXAMPLE.read_text())
    document["clients"][0]["enabled"] = True
    enabled = tmp_path / "sandbox.json"
    enabled.write_text(json.dumps(document))
    create_app(required(tmp_path, enabled))


def _entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}, "algorithms": ["ES384"]}
    entry.update(overrides)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry(algorithms=["HS256"]), "HS256 not accepted"),
        (_entry(algorithms=["none"]), "none not accepted"),
        (_entry(algorithms=[]), "algorithms must be a non-empty list"),
        (_entry(iss=None), "iss is required"),
        (_entry(jwks=None), "give the client's keys"),
        (_entry(jwks={"keys": [{**es384_key().public_jwk(), "d": "secret"}]}), "private or symmetric key"),
        (_entry(jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k"}]}), "private or symmetric key"),
        (_entry(jwks={"keys": [{**es384_key().public_jwk(), "x": "garbage"}]}), "not a usable public JWK"),
        (_entry(jwks={"keys": [{k: v for k, v in es384_key().public_jwk().items() if k != "kid"}]}), "needs a kid"),
        (_entry(jwks_url="http://ehr.example/jwks.json"), "must be an https:// URL"),
        (_entry(jku_allowlist="https://ehr.example/jwks.json"), "jku_allowlist must be a list"),
        (_entry(tenant=""), "tenant must be a non-empty string"),
        (_entry(enabled="yes"), "enabled must be true or false"),
        (_entry(jwks_uri="https://typo.example"), "unknown key(s) jwks_uri"),
    ],
)
def test_bad_client_entries_are_named(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = write_clients(tmp_path / "clients.json", [entry])
    with pytest.raises(TrustedClientsError) as caught:
        load_trusted_clients(path)
    assert message in str(caught.value)
    assert "clients[0]" in str(caught.value)


def test_duplicate_enabled_issuer_is_refused(tmp_path: Path) -> None:
    path = write_clients(tmp_path / "clients.json", [_entry(), _entry()])
    with pytest.raises(TrustedClientsError, match="listed twice"):
        load_trusted_clients(path)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    path.write_text('{"clients": [\n  {"iss": }\n]}')
    with pytest.raises(TrustedClientsError, match="not valid JSON \\(line 2"):
        load_trusted_clients(path)
