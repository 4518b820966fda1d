"""Who may call the service: a JWT signed by a trusted EHR, checked as CDS Hooks 2.0 §6 asks.

`verify()` either returns (the caller is trusted) or raises `Unauthorized` with a reason for the log.
The reason never quotes the token. Checks, in order: a Bearer header; a JWT whose header has an
asymmetric `alg` and `typ` JWT and a `kid`; an `iss` listed in the trusted clients file; an `alg` that
client uses; its key by `kid` (inline, from its `jwks_url`, or from a `jku` it allowlisted); the
signature; `aud` equal to the URL called; `exp` and `iat` present and within the clock-skew allowance;
`tenant` when the client is tied to one; and finally a `jti` never seen before (recorded in the store,
shared by every worker), checked last so a token that fails anything else does not use up its jti.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jwt
from jwt.exceptions import PyJWTError

from cds_service.auth.jwks import JwksCache
from cds_service.auth.trusted_clients import (
    ALLOWED_ALGORITHMS,
    TrustedClient,
    TrustedClientsError,
    load_trusted_clients,
)
from cds_service.settings import Settings

__all__ = [
    "AllowAll",
    "AuthConfigurationError",
    "JwtAuthenticator",
    "ReplayCache",
    "Unauthorized",
    "build_authenticator",
    "load_enabled_clients",
]

log = logging.getLogger("cds_service.auth")

MAX_JTI_CHARS = 256
MAX_TOKEN_CHARS = 16 * 1024  # a CDS Hooks JWT is well under 2 kB
MAX_SHOWN_CHARS = 100  # header and claim values quoted in log reasons are cut to this length


class Unauthorized(Exception):
    """Bare 401; the reason goes to the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthConfigurationError(RuntimeError):
    """Authentication is required but cannot be set up: the service must not start."""


class ReplayCache(Protocol):
    def remember_jti(self, *, issuer: str, jti: str, expires_at: int) -> bool: ...


class AllowAll:
    """CDS_AUTH_MODE=disabled: local development only (app.py logs a loud warning)."""

    def verify(
        self, *, url: str, authorization: str | Sequence[str] | None, budget_seconds: float | None = None
    ) -> None:
        return None


def _shown(value: Any) -> str:
    """A header or claim value for the log: repr'd (no line breaks) and cut short (they are the caller's)."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "...'"


def _bearer_token(authorization: str | Sequence[str] | None) -> str:
    if not isinstance(authorization, str):
        headers = list(authorization or ())
        if len(headers) > 1:
            # Which one would a proxy, a log or another server have read? None is trusted.
            raise Unauthorized(f"{len(headers)} Authorization headers; exactly one is accepted")
        authorization = headers[0] if headers else None
    if authorization is None:
        raise Unauthorized("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("malformed Authorization header: expected 'Bearer <JWT>'")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise Unauthorized("malformed bearer token: not a compact JWS (header.payload.signature)")
    return token


class JwtAuthenticator:
    def __init__(
        self,
        clients: tuple[TrustedClient, ...],
        *,
        replay_cache: ReplayCache,
        jwks_cache: JwksCache,
        clock_skew_seconds: int,
        max_lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = {client.iss: client for client in clients if client.enabled}
        if not self._clients:
            raise AuthConfigurationError("no enabled client in the trusted clients file")
        self._replay_cache = replay_cache
        self._jwks = jwks_cache
        self._skew = clock_skew_seconds
        self._max_lifetime = max_lifetime_seconds
        self._clock = clock

    def verify(
        self, *, url: str, authorization: str | Sequence[str] | None, budget_seconds: float | None = None
    ) -> None:
        """`authorization`: the header's value, or every Authorization header of the request.
        `budget_seconds`: what is left of the call's deadline, the most a key-set download may take."""
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except PyJWTError:
            raise Unauthorized("malformed JWT (header or payload is not base64url JSON)") from None

        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise Unauthorized(f"JWT alg {_shown(alg)} refused (none and HS* are never accepted)")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise Unauthorized(f"JWT header typ must be 'JWT', got {_shown(typ)}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("JWT header has no kid")

        iss = unverified.get("iss")
        client = self._clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise Unauthorized("JWT has no iss" if iss is None else f"JWT iss {_shown(iss)} is not a trusted client")
        if alg not in client.algorithms:
            raise Unauthorized(f"JWT alg {alg} is not one of {sorted(client.algorithms)} configured for {client.name}")

        key = self._signing_key(client, header, kid, alg, budget_seconds)
        now = self._clock()
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=url,
                issuer=client.iss,
                leeway=self._skew,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_nbf": True},
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized(f"JWT signature does not verify with key {_shown(kid)} of {client.name}") from None
        except jwt.ExpiredSignatureError:
            raise Unauthorized("JWT has expired (exp)") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("JWT iat (or nbf) is in the future beyond the clock-skew allowance") from None
        except jwt.InvalidAudienceError:
            aud = unverified.get("aud")
            raise Unauthorized(f"JWT aud {_shown(aud)} is not the URL called ({url})") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"JWT lacks the required claim {exc.claim!r}") from None
        except PyJWTError as exc:
            raise Unauthorized(f"JWT rejected: {type(exc).__name__}") from None

        # RFC 7519 NumericDate is a JSON number; PyJWT also lets numeric strings through.
        if not all(isinstance(claims[c], int | float) and not isinstance(claims[c], bool) for c in ("exp", "iat")):
            raise Unauthorized("JWT exp and iat must be NumericDate numbers")
        exp, iat = int(claims["exp"]), int(claims["iat"])
        jti = claims["jti"]
        if iat > now + self._skew:  # PyJWT checks this too; kept explicit because it is a stated requirement
            raise Unauthorized("JWT iat is in the future beyond the clock-skew allowance")
        if exp - iat > self._max_lifetime:
            raise Unauthorized(f"JWT lifetime exp - iat = {exp - iat} s exceeds {self._max_lifetime} s")
        if client.tenant is not None and claims.get("tenant") != client.tenant:
            raise Unauthorized(f"JWT tenant does not match the tenant configured for {client.name}")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized(f"JWT jti must be a non-empty string of at most {MAX_JTI_CHARS} characters")
        # Keep the jti as long as the token could still pass the exp check elsewhere.
        if not self._replay_cache.remember_jti(issuer=client.iss, jti=jti, expires_at=exp + self._skew + 1):
            raise Unauthorized(f"JWT jti already used (replay) for {client.name}")

    def _signing_key(
        self, client: TrustedClient, header: dict[str, Any], kid: str, alg: str, budget_seconds: float | None
    ) -> Any:
        jku = header.get("jku")
        if jku is not None and (not isinstance(jku, str) or jku not in client.jku_allowlist):
            raise Unauthorized(f"JWT jku {_shown(jku)} is not in the jku allowlist of {client.name}")
        jwk = next((k for k in client.jwks if k.get("kid") == kid), None)
        if jwk is None and jku is not None:
            jwk = self._jwks.key(jku, kid, budget_seconds=budget_seconds)
        if jwk is None and client.jwks_url is not None:
            jwk = self._jwks.key(client.jwks_url, kid, budget_seconds=budget_seconds)
        if jwk is None:
            raise Unauthorized(f"no key with kid {_shown(kid)} for {client.name}")
        if jwk.get("alg") not in (None, alg):
            raise Unauthorized(f"key {_shown(kid)} is for {jwk.get('alg')}, the JWT says {alg}")
        if jwk.get("use") not in (None, "sig"):
            raise Unauthorized(f"key {_shown(kid)} is not a signing key (use {jwk.get('use')!r})")
        if "d" in jwk or jwk.get("kty") == "oct":
            raise Unauthorized(f"key {_shown(kid)} is not a public key")
        try:
            return jwt.PyJWK(jwk, algorithm=alg).key
        except PyJWTError:
            raise Unauthorized(f"key {_shown(kid)} of {client.name} cannot verify {alg}") from None


def load_enabled_clients(settings: Settings) -> tuple[TrustedClient, ...]:
    """The enabled trusted clients, or `AuthConfigurationError` saying what to fix."""
    if settings.trusted_clients is None:
        raise AuthConfigurationError(
            "CDS_AUTH_MODE=required but CDS_TRUSTED_CLIENTS is not set: name a JSON file of trusted EHR clients "
            "(see README, 'Trusting an EHR'), or set CDS_AUTH_MODE=disabled for local development only"
        )
    try:
        clients = load_trusted_clients(settings.trusted_clients)
    except TrustedClientsError as exc:
        raise AuthConfigurationError(str(exc)) from None
    enabled = tuple(client for client in clients if client.enabled)
    for client in clients:
        if not client.enabled:
            log.info("trusted client %s (iss %s) is listed but disabled", client.name, client.iss)
    if not enabled:
        raise AuthConfigurationError(
            f"CDS_TRUSTED_CLIENTS: {settings.trusted_clients} has no enabled client, so no caller could be "
            'accepted; set "enabled": true on the clients you trust'
        )
    return enabled


def build_authenticator(settings: Settings, replay_cache: ReplayCache | None = None) -> JwtAuthenticator | AllowAll:
    """`AllowAll` when auth is disabled; otherwise a `JwtAuthenticator` over the trusted clients file.

    `replay_cache` is the store (its `remember_jti`); without one, a store is opened on CDS_DATABASE_URL.
    """
    if settings.auth_mode == "disabled":
        return AllowAll()
    clients = load_enabled_clients(settings)
    if replay_cache is None:
        from cds_service.store.store import open_store

        replay_cache = open_store(settings)
    default_key = Settings.model_fields["patient_hash_key"].default.get_secret_value()
    if settings.patient_hash_key.get_secret_value() == default_key:
        log.warning("CDS_PATIENT_HASH_KEY is the development default: set a secret key in production")
    log.info("authentication required; trusted clients: %s", ", ".join(f"{c.name} ({c.iss})" for c in clients))
    return JwtAuthenticator(
        clients,
        replay_cache=replay_cache,
        jwks_cache=JwksCache(
            timeout=settings.jwks_fetch_timeout_seconds,
            min_refetch_seconds=settings.jwks_min_refetch_seconds,
            max_age_seconds=settings.jwks_max_age_seconds,
        ),
        clock_skew_seconds=settings.jwt_clock_skew_seconds,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
    )
