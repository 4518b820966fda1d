"""Prefetch templates and values: render a template for one call, and tell what a client's value means.

CDS Hooks 2.0 §prefetch: tokens are `{{context.<field>}}` for root-level primitive context fields and
`{{userPractitionerId}}`, `{{userPractitionerRoleId}}`, `{{userPatientId}}`, `{{userRelatedPersonId}}`
(from `context.userId`). A key the client could not satisfy is omitted (fetch it); a `null` key means no
data; an OperationOutcome (or a Bundle of nothing but outcomes) means the client's own query failed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from cds_service.protocol.json_body import json_type_name

__all__ = [
    "OUTCOME",
    "USER_TOKENS",
    "PrefetchState",
    "TemplateError",
    "ValueKind",
    "classify",
    "is_outcome_entry",
    "is_read",
    "past_window",
    "render_template",
    "token_values",
]

TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
# userId's resource type -> the token that carries its id.
USER_TOKENS = {
    "Practitioner": "userPractitionerId",
    "PractitionerRole": "userPractitionerRoleId",
    "Patient": "userPatientId",
    "RelatedPerson": "userRelatedPersonId",
}
OUTCOME = "OperationOutcome"


class TemplateError(ValueError):
    """A template names a token this call has no value for. The message names the token, never a value."""


def token_values(context: BaseModel | Mapping[str, Any]) -> dict[str, str]:
    """Every token this context can fill, already URL-encoded for a query string."""
    # dict(model) lists the fields as they are: model_dump() would copy draftOrders, whole, for nothing.
    fields = dict(context)
    values: dict[str, str] = {}
    for name, value in fields.items():
        # Only root-level primitives are tokens: draftOrders, selections and the like are not.
        if isinstance(value, bool):
            values[f"context.{name}"] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            values[f"context.{name}"] = quote(str(value), safe="")
    user = fields.get("userId")
    if isinstance(user, str) and "/" in user:
        kind, _, user_id = user.partition("/")
        if kind in USER_TOKENS and user_id:
            values[USER_TOKENS[kind]] = quote(user_id, safe="")
    return values


def render_template(template: str, values: Mapping[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        token = match.group(1)
        if token not in values:
            raise TemplateError(f"prefetch template token {{{{{token}}}}} has no value in this request's context")
        return values[token]

    return TOKEN.sub(fill, template)


def is_read(query: str) -> bool:
    """`Type/id` (an instance read) rather than a search."""
    return "?" not in query and query.strip("/").count("/") == 1


class ValueKind(enum.Enum):
    MISSING = "missing"  # key absent: fetch it
    NO_DATA = "no_data"  # null: the client says nothing exists
    DATA = "data"  # a FHIR resource or Bundle to use as given
    FAILED = "failed"  # the client's query failed (OperationOutcome): fetch it
    NOT_FHIR = "not_fhir"  # not a FHIR resource at all: note it, fetch it


@dataclass(frozen=True, slots=True)
class PrefetchState:
    kind: ValueKind
    problem: str | None = None  # for NOT_FHIR: what is wrong, for a DataIssue

    @property
    def needs_fetch(self) -> bool:
        return self.kind in (ValueKind.MISSING, ValueKind.FAILED, ValueKind.NOT_FHIR)


_MISSING = PrefetchState(ValueKind.MISSING)


def classify(prefetch: Mapping[str, Any] | None, key: str) -> PrefetchState:
    if prefetch is None or key not in prefetch:
        return _MISSING
    value = prefetch[key]
    if value is None:
        return PrefetchState(ValueKind.NO_DATA)
    if not isinstance(value, dict):
        return PrefetchState(ValueKind.NOT_FHIR, f"is a JSON {json_type_name(value)}, not a FHIR resource")
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        if "resource" in value or "response" in value:
            return PrefetchState(
                ValueKind.NOT_FHIR, "is a Bundle entry ({response, resource}), not a FHIR resource"
            )
        return PrefetchState(ValueKind.NOT_FHIR, "has no resourceType, so it is not a FHIR resource")
    if resource_type == OUTCOME:
        return PrefetchState(ValueKind.FAILED)
    if resource_type == "Bundle" and _only_outcomes(value):
        return PrefetchState(ValueKind.FAILED)
    return PrefetchState(ValueKind.DATA)


def is_outcome_entry(entry: Mapping[str, Any]) -> bool:
    """An entry that reports on the query rather than carrying data."""
    search = entry.get("search")
    if isinstance(search, dict) and search.get("mode") == "outcome":
        return True
    resource = entry.get("resource")
    if isinstance(resource, dict):
        return resource.get("resourceType") == OUTCOME
    response = entry.get("response")
    return resource is None and isinstance(response, dict) and "outcome" in response


def _only_outcomes(bundle: Mapping[str, Any]) -> bool:
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        return False
    return all(isinstance(entry, dict) and is_outcome_entry(entry) for entry in entries)


def past_window(bundle: Mapping[str, Any], elements: tuple[str, ...], start: date) -> bool:
    """Whether a searchset page sorted newest first already ends before `start`, so no later page can hold
    anything newer. `elements` are where an entry carries its date (e.g. `effectivePeriod.end`).

    False when the page is not visibly sorted newest first (a server may ignore `_sort`) or carries no
    dated entry: then the later pages may matter. Entries without a date are passed over.
    """
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return False
    days = [day for entry in entries if isinstance(entry, dict) and (day := _entry_day(entry, elements))]
    if not days or any(first < second for first, second in zip(days, days[1:], strict=False)):
        return False
    return days[-1] < start.isoformat()


def _entry_day(entry: Mapping[str, Any], elements: tuple[str, ...]) -> str | None:
    """`YYYY-MM-DD` of the first of `elements` the entry's resource has; a partial date reads as its last
    possible day (so a page is never judged older than it may be)."""
    resource = entry.get("resource")
    for element in elements:
        value: Any = resource
        for part in element.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit():
            day = value[:10]
            if len(day) == 4:
                return f"{day}-12-31"
            if len(day) == 7:
                return f"{day}-31"  # compares after any real day of that month
            return day
    return None
