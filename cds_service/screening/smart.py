"""SMART Backend Services (client-credentials with a `private_key_jwt` assertion) for the Bulk Data client:
an access token from the FHIR server's token endpoint, refreshed before it expires during a long export.

The assertion follows the SMART App Launch "Backend Services" rules: iss = sub = the client id, aud = the
token endpoint, exp at most 5 minutes ahead, a fresh jti, the key's `kid` in the header, ES384 for a P-384
key and RS384 for an RSA key. Neither the key nor a token is ever logged or put in an error message.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = ["BackendServicesToken", "SmartError", "token_endpoint"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 300  # the SMART maximum
# A token this close to its expiry is replaced before the next request: a poll or file must not 401 halfway.
REFRESH_MARGIN_SECONDS = 60.0


class SmartError(RuntimeError):
    """No token could be had; the message names the step, never a secret."""


def token_endpoint(base_url: str, session: requests.Session) -> str:
    """The token endpoint the server advertises in `.well-known/smart-configuration`."""
    url = f"{base_url.rstrip('/')}/.well-known/smart-configuration"
    try:
        answer = session.get(url, headers={"Accept": "application/json"}, timeout=30)
        endpoint = answer.json().get("token_endpoint") if answer.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        endpoint = None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise SmartError("the server's .well-known/smart-configuration names no token_endpoint: give --smart-token-url")
    return endpoint


class BackendServicesToken:
    """Callable: the current access token, fetched or refreshed as needed (thread-safe: downloads run in
    parallel)."""

    def __init__(self, *, token_url: str, client_id: str, key_path: Path, kid: str, scope: str,
                 session: requests.Session | None = None) -> None:
        try:
            key = load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            raise SmartError("--smart-key: not a readable unencrypted PEM private key") from None
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
            self._alg = "ES384"
        elif isinstance(key, rsa.RSAPrivateKey):
            self._alg = "RS384"
        else:
            raise SmartError("--smart-key: SMART Backend Services signs with ES384 (P-384) or RS384 (RSA)")
        self._key = key
        self._token_url = token_url
        self._client_id = client_id
        self._kid = kid
        self._scope = scope
        self._http = session or requests.Session()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.fetched = 0  # how many tokens were obtained (tests: refreshed during a long export)

    def __repr__(self) -> str:
        return f"BackendServicesToken(client_id={self._client_id!r})"

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - REFRESH_MARGIN_SECONDS:
                self._fetch()
            assert self._token is not None
            return self._token

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {"iss": self._client_id, "sub": self._client_id, "aud": self._token_url,
                  "exp": now + ASSERTION_SECONDS, "iat": now, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self._key, algorithm=self._alg, headers={"kid": self._kid, "typ": "JWT"})

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", "scope": self._scope,
                "client_assertion_type": ASSERTION_TYPE, "client_assertion": self._assertion()}
        try:
            answer = self._http.post(self._token_url, data=form, headers={"Accept": "application/json"}, timeout=30)
            body = answer.json()
        except (requests.RequestException, ValueError):
            raise SmartError("token endpoint: no JSON answer") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if answer.status_code != 200 or not isinstance(token, str):
            reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
            raise SmartError(f"token endpoint: HTTP {answer.status_code}" + (f": {str(reason)[:200]}" if reason else ""))
        lifetime = body.get("expires_in")
        self._token = token
        self._expires = time.time() + (float(lifetime) if isinstance(lifetime, (int, float)) else ASSERTION_SECONDS)
        self.fetched += 1
