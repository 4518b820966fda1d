"""Dates of FHIR resources, as `datetime.date`, and the lookback rule.

FHIR dates may be partial ("2026", "2026-09"); a partial date is read as its first day, which can only make
a result look older, never newer. Lookback windows include both ends: `within(d, today, 90)` is true for
`today - 90 days` and for `today`, false for a day earlier or any later day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from cds_service.facts.access import get, items

__all__ = ["clinical_date", "clinical_value", "days_between", "to_date", "to_sort_key", "within"]


def to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit():
        try:
            year = int(value[:4])
            month = int(value[5:7]) if len(value) >= 7 else 1
            day = int(value[8:10]) if len(value) >= 10 else 1
            return date(year, month, day)
        except ValueError:
            return None
    return None


def to_sort_key(value: Any) -> str:
    """A string that orders FHIR dates/datetimes of one patient chronologically (same-day ties by time).

    A time with a zone is compared in UTC ("23:30-10:00" on the 1st is after "05:00+02:00" on the 2nd); a
    date or a time without a zone is taken as written."""
    if isinstance(value, str) and "T" in value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value if isinstance(value, str) else ""


# Which element carries "when it happened", per resource type, in order of preference.
_WHEN = {
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
    "Observation": ("effectiveDateTime", "effectiveInstant", "effectivePeriod.end", "effectivePeriod.start", "issued"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod.end", "effectivePeriod.start", "issued"),
    "ImagingStudy": ("started",),  # else the earliest `series.started` (`_series_started`)
    "Procedure": ("performedDateTime", "performedPeriod.end", "performedPeriod.start"),
    "ServiceRequest": ("occurrenceDateTime", "occurrencePeriod.start", "authoredOn"),
}


def clinical_value(resource: Any, resource_type: str) -> Any:
    for path in _WHEN.get(resource_type, ()):
        value: Any = resource
        for part in path.split("."):
            value = get(value, part)
        if value is not None:
            return value
    if resource_type == "ImagingStudy":
        return _series_started(resource)
    return None


def _series_started(study: Any) -> Any:
    """A study without `started` began when its first series did: the earliest `series.started` (a series
    is 0..*; `series.instance` has no date in R4). Many PACS feeds date only their series."""
    earliest = None
    for series in items(study, "series"):
        started = get(series, "started")
        if isinstance(started, str) and to_date(started) is not None and (
            earliest is None or to_sort_key(started) < to_sort_key(earliest)
        ):
            earliest = started
    return earliest


def clinical_date(resource: Any, resource_type: str) -> date | None:
    return to_date(clinical_value(resource, resource_type))


def within(when: date | None, today: date, days: int) -> bool:
    """`when` lies in [today - days, today], both ends included."""
    return when is not None and today - timedelta(days=days) <= when <= today


def days_between(earlier: date, later: date) -> int:
    return (later - earlier).days
