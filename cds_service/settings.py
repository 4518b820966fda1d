"""Every setting of the service, read once from the environment (``CDS_*``).

The README lists each variable; this module is the only place that reads them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_CALL_DEADLINE_SECONDS", "Settings", "get_settings"]

DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024  # a generous prefetch (hundreds of resources) is ~1 MB
# The Da Vinci CRD guide asks for an answer within 5 s in 90% of calls. The FHIR server is the only wait a
# call has; the rest (JWT check, parsing, rules, cards, the store, the network back to the EHR) takes tens
# of milliseconds, a few hundred under load: 4 s for the FHIR server leaves a second for all of it.
DEFAULT_CALL_DEADLINE_SECONDS = 4.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDS_", extra="ignore")

    # The base URL clients use: card links, node pages and the JWT `aud` are built from it.
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    # `required` in production; `disabled` only for local development (a loud warning at startup).
    auth_mode: Literal["required", "disabled"] = "required"
    # JSON file of trusted EHR clients (issuer, keys, tenant, algorithms); needed when auth is required.
    trusted_clients: Path | None = None
    # Browser origins allowed by CORS, comma-separated; `*` allows any origin.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Requests with a larger body are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)

    # Connection limits of `cds-service serve`, per worker process (serving.py). Request line and headers
    # larger than this answer 431 (a JWT is ~1-2 kB; the authenticator accepts up to 16 kB).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    # A request must arrive whole (headers and body) this long after its first byte (or after the
    # connection opened, for its first request); otherwise 408 and the connection is closed.
    request_read_timeout_seconds: float = Field(default=15.0, gt=0)
    # Open connections at most; more are answered 503 (Retry-After) at once.
    max_connections: int = Field(default=2048, ge=1)
    # Requests received whole and still being answered, at most; more are answered 503 at once.
    max_requests_in_flight: int = Field(default=100, ge=1)

    # One deadline for each hook call: every FHIR request, page and byte; past it, missing keys answer 412.
    call_deadline_seconds: float = Field(default=DEFAULT_CALL_DEADLINE_SECONDS, gt=0)
    # FHIR server calls made when prefetch is missing. Per request, and never beyond the call's deadline.
    fhir_connect_timeout_seconds: float = Field(default=3.05, gt=0)
    fhir_read_timeout_seconds: float = Field(default=10.0, gt=0)
    fhir_max_pages: int = Field(default=10, ge=1)  # pages fetched per query, at most (first page included)
    # FHIR requests of one hook call in flight at once. At least the number of prefetch keys (15 today), so
    # that a call without prefetch takes one round trip, not two; it bounds each call, not the service.
    # One round trip: 13 prefetch keys (the Patient read among them), 10 of them windowed with an undated
    # second search: 23 requests, and room for a page of the next.
    fhir_max_parallel: int = Field(default=32, ge=1)

    # JWT checks. Allowance for clocks that disagree, applied to `exp` and `iat` (both directions).
    jwt_clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    # Longest accepted token lifetime (`exp` - `iat`); the spec's tokens live minutes. Bounds the jti cache too.
    jwt_max_lifetime_seconds: int = Field(default=3600, gt=0)
    # JWK Set downloads (`jwks_url`, allowlisted `jku`): timeout, least time between two fetches of one URL
    # (an unknown `kid` triggers a re-fetch at most this often), and age after which a cached set is refreshed.
    jwks_fetch_timeout_seconds: float = Field(default=5.0, gt=0)
    jwks_min_refetch_seconds: float = Field(default=60.0, ge=0)
    jwks_max_age_seconds: float = Field(default=3600.0, gt=0)

    # Store of issued cards, feedback and seen JWT ids. SQLite by default; PostgreSQL in deployments.
    database_url: str = "sqlite:///./cds-service.db"
    # Key for the keyed hash of patient ids kept in the store (never the id in clear).
    patient_hash_key: SecretStr = SecretStr("development-only-change-me")
    # Key of the MAC inside card and suggestion uuids, so feedback is verified without the database
    # (card_ids.py). Unset: derived from patient_hash_key. Keep it stable, like that key.
    card_id_key: SecretStr | None = None

    # Optional TOML file overriding the pathway's thresholds and lookbacks (see guideline/thresholds.toml).
    pathway_config: Path | None = None

    # Operations (README "Operating it"). Log lines as JSON objects (one per line) or plain text.
    log_format: Literal["text", "json"] = "text"
    # GET /metrics (Prometheus text format); off answers 404. The numbers carry no patient data.
    metrics_enabled: bool = True
    # GET /docs (Swagger UI, which loads its script from a CDN); /openapi.json is always served.
    api_docs: bool = False

    # The testers' sandbox page (GET /sandbox). Unset: on when auth is disabled, off when auth is required
    # (it runs hooks without a token and fetches from any FHIR server URL it is given).
    sandbox_enabled: bool | None = None
    # The sandbox's ready-made patients: `module:attribute` of a provider (sandbox/samples.py), given from
    # outside the service; `make serve` names the fixture patients. Unset: none (the other sources work).
    sandbox_patients: str | None = None
    # Issue 19, off by default: each card gets a "Why this card?" link to a server-rendered explanation, kept
    # in this process's memory only (never the store, never the logs) under an opaque token for this long.
    explain_links: bool = False
    explain_links_ttl_seconds: float = Field(default=600.0, gt=0, le=86400)

    @property
    def sandbox_on(self) -> bool:
        return self.sandbox_enabled if self.sandbox_enabled is not None else self.auth_mode == "disabled"

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"CDS_PUBLIC_BASE_URL must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
