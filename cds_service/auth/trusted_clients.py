"""The EHRs this service trusts, read from the JSON file named by CDS_TRUSTED_CLIENTS.

File format (see README, "Trusting an EHR")::

    {"clients": [
      {"iss": "https://ehr.example.org",          # required: the JWT `iss` this client signs with
       "name": "Example EHR",                    # optional, for logs
       "enabled": true,                          # optional, default true; false keeps the entry but ignores it
       "jwks": {"keys": [...]},                  # its public keys inline, and/or
       "jwks_url": "https://ehr.example.org/.well-known/jwks.json",   # where to fetch them, and/or
       "jku_allowlist": ["https://ehr.example.org/.well-known/jwks.json"],  # `jku` headers honoured
       "tenant": "hospital-a",                   # optional: the `tenant` claim must equal this
       "algorithms": ["ES384", "RS384"]}         # accepted `alg`s: asymmetric only
    ]}

Every mistake stops the service at startup with a message naming the file and the entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

__all__ = [
    "ALLOWED_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "TrustedClient",
    "TrustedClientsError",
    "load_trusted_clients",
    "parse_trusted_clients",
]

# Asymmetric signatures only: `none` and HS* (shared secrets) are never accepted, whatever the file says.
ALLOWED_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("ES384", "RS384")  # the two the CDS Hooks specification recommends
_CLIENT_KEYS = {"iss", "name", "description", "enabled", "jwks", "jwks_url", "jku_allowlist", "tenant", "algorithms"}


class TrustedClientsError(ValueError):
    """The trusted clients file is missing or wrong; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class TrustedClient:
    iss: str
    name: str
    enabled: bool
    jwks: tuple[dict[str, Any], ...]  # inline public JWKs
    jwks_url: str | None
    jku_allowlist: frozenset[str]
    tenant: str | None
    algorithms: frozenset[str]


def load_trusted_clients(path: Path) -> tuple[TrustedClient, ...]:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrustedClientsError(f"CDS_TRUSTED_CLIENTS: cannot read {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrustedClientsError(
            f"CDS_TRUSTED_CLIENTS: {path} is not valid JSON (line {exc.lineno} column {exc.colno})"
        ) from None
    return parse_trusted_clients(document, source=str(path))


def parse_trusted_clients(document: Any, *, source: str = "trusted clients") -> tuple[TrustedClient, ...]:
    if not isinstance(document, dict) or not isinstance(document.get("clients"), list):
        raise TrustedClientsError(f'{source}: expected a JSON object {{"clients": [...]}}')
    clients = tuple(_client(entry, f"{source}: clients[{i}]") for i, entry in enumerate(document["clients"]))
    seen: set[str] = set()
    for i, client in enumerate(clients):
        if client.enabled and client.iss in seen:
            raise TrustedClientsError(f"{source}: clients[{i}]: iss {client.iss!r} is listed twice (enabled)")
        if client.enabled:
            seen.add(client.iss)
    return clients


def _https_or_loopback_url(value: Any, where: str) -> str:
    # Keys must come over TLS; plain http only to this machine (tests, a sidecar).
    if not isinstance(value, str):
        raise TrustedClientsError(f"{where} must be a URL string")
    parts = urlsplit(value)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.netloc or not (parts.scheme == "https" or loopback):
        raise TrustedClientsError(f"{where} must be an https:// URL (http:// only for 127.0.0.1), got {value!r}")
    return value


def _client(entry: Any, where: str) -> TrustedClient:
    if not isinstance(entry, dict):
        raise TrustedClientsError(f"{where} must be an object")
    unknown = sorted(set(entry) - _CLIENT_KEYS)
    if unknown:
        raise TrustedClientsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_CLIENT_KEYS))}"
        )
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss:
        raise TrustedClientsError(f"{where}: iss is required (the issuer the client puts in its JWTs)")
    where = f"{where} (iss {iss!r})"
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise TrustedClientsError(f"{where}: enabled must be true or false")

    jwks: tuple[dict[str, Any], ...] = ()
    if "jwks" in entry:
        keys = entry["jwks"].get("keys") if isinstance(entry["jwks"], dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise TrustedClientsError(f'{where}: jwks must be a JWK Set {{"keys": [...]}}')
        for j, key in enumerate(keys):
            if "d" in key or key.get("kty") == "oct":
                raise TrustedClientsError(
                    f"{where}: jwks.keys[{j}] is a private or symmetric key; list public keys only"
                )
            if not isinstance(key.get("kid"), str):
                raise TrustedClientsError(f"{where}: jwks.keys[{j}] needs a kid (tokens pick their key by kid)")
            try:
                jwt.PyJWK(key)  # a key that cannot be loaded is a typo to report now, not a 401 later
            except (jwt.PyJWTError, ValueError, TypeError) as exc:
                raise TrustedClientsError(
                    f"{where}: jwks.keys[{j}] (kid {key['kid']!r}) is not a usable public JWK: {type(exc).__name__}"
                ) from None
        jwks = tuple(keys)
    jwks_url = _https_or_loopback_url(entry["jwks_url"], f"{where}: jwks_url") if "jwks_url" in entry else None
    allowlist = entry.get("jku_allowlist", [])
    if not isinstance(allowlist, list):
        raise TrustedClientsError(f"{where}: jku_allowlist must be a list of URLs")
    jku_allowlist = frozenset(_https_or_loopback_url(u, f"{where}: jku_allowlist entry") for u in allowlist)
    if not jwks and jwks_url is None and not jku_allowlist:
        raise TrustedClientsError(f"{where}: give the client's keys as jwks, jwks_url or jku_allowlist")

    tenant = entry.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise TrustedClientsError(f"{where}: tenant must be a non-empty string when given")
    algorithms = entry.get("algorithms", list(DEFAULT_ALGORITHMS))
    if not isinstance(algorithms, list) or not algorithms or not all(isinstance(a, str) for a in algorithms):
        raise TrustedClientsError(f"{where}: algorithms must be a non-empty list such as [\"ES384\", \"RS384\"]")
    refused = sorted(set(algorithms) - ALLOWED_ALGORITHMS)
    if refused:
        raise TrustedClientsError(
            f"{where}: algorithm(s) {', '.join(refused)} not accepted; use asymmetric ones: "
            f"{', '.join(sorted(ALLOWED_ALGORITHMS))}"
        )
    name = entry.get("name", iss)
    return TrustedClient(
        iss=iss,
        name=name if isinstance(name, str) else iss,
        enabled=enabled,
        jwks=jwks,
        jwks_url=jwks_url,
        jku_allowlist=jku_allowlist,
        tenant=tenant,
        algorithms=frozenset(algorithms),
    )
