"""The CDS Hooks 2.0 service request, validated field by field.

Unknown fields (and `extension`) are accepted and ignored, as the spec asks. Validation messages name the
field and the problem but never echo the value: a patient id or a token must not reach an error body.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, field_validator, model_validator

from cds_service.protocol.json_body import MAX_RESOURCE_DEPTH, nests_deeper_than

__all__ = [
    "FhirAuthorization",
    "HookRequest",
    "OrderSelectContext",
    "OrderSignContext",
    "PatientViewContext",
    "CONTEXT_MODELS",
]

# FHIR R4 `id`: 1-64 of [A-Za-z0-9-.].
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
USER_REFERENCE = re.compile(r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$")
RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
# hookInstance: the protocol's UUID, in any case (ops/openapi.py advertises the same pattern).
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID = re.compile(UUID_PATTERN)
RESOURCE_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def _is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host, a valid port if any, and nothing the HTTP client would choke on."""
    if len(value) > 2048 or not value.isprintable() or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment


def _bare_id(value: str, *, what: str) -> str:
    if FHIR_ID.match(value):
        return value
    if RESOURCE_REFERENCE.match(value):
        raise ValueError(f"must be a bare FHIR id of the {what}, not a reference of the form 'Type/id'")
    raise ValueError("must be a FHIR id: 1 to 64 letters, digits, '-' or '.'")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FhirAuthorization(_Lenient):
    # SecretStr keeps the token out of every repr, log line and error message.
    access_token: SecretStr = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: StrictInt | None = None  # a JSON number of seconds: not a string, not true
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class PatientViewContext(_Lenient):
    userId: str
    patientId: str
    encounterId: str | None = None

    @field_validator("userId")
    @classmethod
    def _user(cls, value: str) -> str:
        if not USER_REFERENCE.match(value):
            raise ValueError("must be a reference 'Practitioner/id', 'PractitionerRole/id', 'Patient/id' or 'RelatedPerson/id'")
        return value

    @field_validator("patientId")
    @classmethod
    def _patient(cls, value: str) -> str:
        return _bare_id(value, what="Patient")

    @field_validator("encounterId")
    @classmethod
    def _encounter(cls, value: str | None) -> str | None:
        return None if value is None else _bare_id(value, what="Encounter")


class _DraftOrdersContext(PatientViewContext):
    draftOrders: dict[str, Any]

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("must be a FHIR Bundle (resourceType 'Bundle')")
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            raise ValueError("entry must be an array")
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            if not isinstance(kind, str) or not RESOURCE_TYPE.match(kind):
                raise ValueError(f"entry[{index}] has no resource with a resourceType")
            if not isinstance(resource.get("id"), str) or not FHIR_ID.match(resource["id"]):
                raise ValueError(f"entry[{index}].resource has no valid id, so it cannot be selected or replaced")
            if nests_deeper_than(resource):
                raise ValueError(f"entry[{index}].resource nests deeper than {MAX_RESOURCE_DEPTH} levels")
        return value

    def draft_references(self) -> list[str]:
        """`Type/id` of every draft order, in Bundle order."""
        return [
            f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
            for entry in self.draftOrders.get("entry", [])
        ]


class OrderSelectContext(_DraftOrdersContext):
    selections: list[str] = Field(min_length=1)

    @field_validator("selections")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        for index, reference in enumerate(value):
            if not RESOURCE_REFERENCE.match(reference):
                raise ValueError(f"item {index} must be a reference of the form 'Type/id'")
        return value

    @model_validator(mode="after")
    def _selections_point_into_draft_orders(self) -> "OrderSelectContext":
        drafts = set(self.draft_references())
        missing = [index for index, reference in enumerate(self.selections) if reference not in drafts]
        if missing:
            raise ValueError(f"selections: item(s) {missing} do not point to an order in draftOrders")
        return self


class OrderSignContext(_DraftOrdersContext):
    pass


CONTEXT_MODELS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}



class HookRequest(_Lenient):
    hook: str = Field(min_length=1)
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    # Values are kept raw: each is checked (Bundle, resource, OperationOutcome, null) by data gathering.
    prefetch: dict[str, Any] | None = None

    @field_validator("hookInstance")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not UUID.fullmatch(value):
            raise ValueError("must be a UUID")
        return value

    @field_validator("fhirServer")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _is_http_url(value):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> "HookRequest":
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirServer: is required when fhirAuthorization is present")
        return self
