"""Keys, tokens and trusted-clients files for the authentication tests, and a local JWK Set server.

Keys are generated with `cryptography` (once per session: RSA generation is slow); tokens are signed with
PyJWT, except the deliberately broken ones (alg none, HS256 keyed with the public key), built by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = [
    "BASE_URL",
    "EHR_ISS",
    "JwksServer",
    "SigningKey",
    "TENANT_ISS",
    "b64url",
    "claims",
    "es384_key",
    "jwks_server",
    "mint",
    "mint_raw",
    "rs384_key",
    "write_clients",
]

BASE_URL = "https://cds.test.example"
EHR_ISS = "https://ehr.test.example"
TENANT_ISS = "https://tenant-ehr.test.example"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@lru_cache(maxsize=None)
def es384_key(kid: str = "es-1") -> SigningKey:
    return SigningKey(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))


@lru_cache(maxsize=None)
def rs384_key(kid: str = "rs-1") -> SigningKey:
    return SigningKey(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def claims(
    path: str, *, iss: str = EHR_ISS, now: float | None = None, lifetime: int = 300, **extra: Any
) -> dict[str, Any]:
    """Claims a well-behaved EHR sends for a call to BASE_URL + path."""
    now = time.time() if now is None else now
    base = {"iss": iss, "aud": BASE_URL + path, "iat": int(now), "exp": int(now) + lifetime, "jti": str(uuid.uuid4())}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    headers = {"kid": key.kid, "typ": "JWT", **header}
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(payload, key.private, algorithm=key.alg, headers=headers)


def mint_raw(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """Signed like `mint`, but the claims are not checked: for claims of the wrong type."""
    headers = {"kid": key.kid, "typ": "JWT", **header}
    return jwt.api_jws.PyJWS().encode(json.dumps(payload).encode(), key.private, algorithm=key.alg, headers=headers)


def b64url(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(payload: dict[str, Any], kid: str) -> str:
    """alg none: what an attacker sends hoping the verifier skips the signature."""
    return f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64url(payload)}."


def hs256_with_public_key(key: SigningKey, payload: dict[str, Any]) -> str:
    """The key-confusion attack: HMAC keyed with the (public) verification key."""
    signing_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{b64url(payload)}"
    signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def write_clients(path: Path, clients: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"clients": clients}, indent=2), encoding="utf-8")
    return path


@dataclass
class JwksServer:
    """Serves `keys` as a JWK Set at `url`, counting requests; 127.0.0.1 only."""

    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    hits: int = 0


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.hits += 1
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
