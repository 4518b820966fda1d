"""SMART Backend Services for the Bulk Data client (cds_service/screening/smart.py) against the test server's
token endpoint (tests/fhir_server/bulk_export.mjs), which checks the signed assertion with node:crypto: an
independent verifier, not the library that signed it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_service.screening.bulk import BulkClient
from cds_service.screening.smart import BackendServicesToken, SmartError, token_endpoint
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server  # noqa: F401 - fixture

CLIENT = "screen-client"


def _pem(key, path: Path) -> Path:  # noqa: ANN001
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _jwk(key, kid: str) -> dict:  # noqa: ANN001
    algorithm = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid}


@pytest.fixture()
def server(fhir_server: FhirTestServer) -> Iterator[FhirTestServer]:  # noqa: F811
    fhir_server.reset()
    fhir_server.load([{"resourceType": "Patient", "id": "p1"},
                      {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}])
    yield fhir_server
    fhir_server.reset()


def _configure(server: FhirTestServer, keys: list[dict], **more: object) -> None:
    body = {"smartClientId": CLIENT, "smartJwks": {"keys": keys}, "polls": 1, **more}
    requests.put(f"{server.root_url}/_bulk/config", json=body, timeout=10).raise_for_status()


@pytest.mark.parametrize("make", [lambda: ec.generate_private_key(ec.SECP384R1()),
                                  lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)],
                         ids=["ES384", "RS384"])
def test_export_with_backend_services_tokens_refreshed(server: FhirTestServer, tmp_path: Path, make,  # noqa: ANN001
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = make()
    # 60 s tokens are inside the 60 s refresh margin: every request needs a fresh one, as late in a long export.
    _configure(server, [_jwk(key, "k1")], tokenSeconds=60)
    session = requests.Session()
    url = token_endpoint(server.base_url, session)
    assert url == f"{server.base_url}/_smart/token"
    provider = BackendServicesToken(token_url=url, client_id=CLIENT, key_path=_pem(key, tmp_path / "key.pem"),
                                    kid="k1", scope="system/Patient.rs system/Condition.rs")
    client = BulkClient(server.base_url, token=provider, sleep=lambda _s: None)
    source, manifest = client.export_to(tmp_path / "e", client.kick_off())
    assert manifest["requiresAccessToken"] is True and len(source.files()) == 2
    assert provider.fetched >= 4  # kick-off, polls, files, DELETE: refreshed, never an expired token sent
    tokens = {r["authorization"] for r in requests.get(f"{server.root_url}/_bulk/requests", timeout=10).json()
              if r["authorization"]}
    assert len(tokens) >= 4
    assert not any(token.split(" ", 1)[1] in caplog.text for token in tokens)


def test_an_assertion_signed_by_another_key_is_refused(server: FhirTestServer, tmp_path: Path) -> None:
    registered = ec.generate_private_key(ec.SECP384R1())
    other = ec.generate_private_key(ec.SECP384R1())
    _configure(server, [_jwk(registered, "k1")])
    provider = BackendServicesToken(token_url=f"{server.base_url}/_smart/token", client_id=CLIENT,
                                    key_path=_pem(other, tmp_path / "other.pem"), kid="k1", scope="system/*.rs")
    with pytest.raises(SmartError, match="HTTP 400: bad signature"):
        provider()
    wrong_client = BackendServicesToken(token_url=f"{server.base_url}/_smart/token", client_id="someone-else",
                                        key_path=_pem(registered, tmp_path / "k.pem"), kid="k1", scope="system/*.rs")
    with pytest.raises(SmartError, match="iss/sub"):
        wrong_client()
    # Without a token the export is refused: the server really requires what it issued.
    assert requests.get(f"{server.base_url}/Patient/$export", timeout=10,
                        headers={"Accept": "application/fhir+json", "Prefer": "respond-async"}).status_code == 401


def test_a_p256_key_is_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(SmartError, match="ES384"):
        BackendServicesToken(token_url="http://127.0.0.1:9/token", client_id=CLIENT, kid="k",
                             key_path=_pem(ec.generate_private_key(ec.SECP256R1()), tmp_path / "p256.pem"), scope="x")


def test_screen_command_with_backend_services(server: FhirTestServer, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    from cds_service.cli import main as cli_main

    key = ec.generate_private_key(ec.SECP384R1())
    _configure(server, [_jwk(key, "k1")], polls=0)
    pem = _pem(key, tmp_path / "key.pem")
    command = ["screen", "--fhir-server", server.base_url, "--out", str(tmp_path / "out"), "--no-progress",
               "--workers", "1", "--smart-client-id", CLIENT, "--smart-key", str(pem), "--smart-kid", "k1"]
    assert cli_main(command) == 0
    assert (tmp_path / "out" / "findings.ndjson").exists()
    log = requests.get(f"{server.root_url}/_bulk/requests", timeout=10).json()
    assert log[0]["path"] == "/fhir/_smart/token" and log[1]["authorization"].startswith("Bearer ")
    assert log[1]["authorization"].split(" ", 1)[1] not in "".join(capsys.readouterr())
    assert cli_main([*command[:-2], "--smart-kid", "unregistered"]) == 3
    assert "unknown kid or alg" in capsys.readouterr().err
    assert cli_main(command[:-2]) == 2  # a missing --smart-kid is named, not a stack trace
