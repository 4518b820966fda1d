"""Date tokens: `{{today}}`, `{{today-30d}}`, `{{today+3d}}`, `{{today-8w}}` (days or weeks), rendered to concrete
dates for a given day, so records written with them never age.

A token may sit inside a longer string: ``"{{today-5d}}T08:15:00Z"`` becomes ``"2026-11-16T08:15:00Z"``. A
partial date, as EHRs send some, is ``{{today-400d:month}}`` (``2025-10``) or ``{{today-400d:year}}``
(``2025``). Everything else is returned unchanged. The fixture patients are written with them
(`fhir_fixtures.materialize`), and the testers' tools render them in what a tester pastes
(`tools/hook_input.py`), so the grammar lives here, on the service's side (cds_service never imports
fhir_fixtures).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

__all__ = ["TOKEN", "materialize", "render_date", "shift"]

TOKEN = re.compile(r"\{\{\s*today\s*(?:([+-])\s*(\d+)\s*([dw]))?\s*(?::\s*(month|year)\s*)?\}\}")
PRECISION = {None: 10, "month": 7, "year": 4}  # characters of the ISO date kept
UNIT_DAYS = {"d": 1, "w": 7}


def shift(today: date, days: int) -> date:
    return today + timedelta(days=days)


def _offset_days(match: re.Match[str]) -> int:
    sign, amount, unit, _ = match.groups()
    if sign is None:
        return 0
    days = int(amount) * UNIT_DAYS[unit]
    return days if sign == "+" else -days


def render_date(text: str, today: date) -> str:
    """Replace every token in `text`; leftover braces mean a malformed token, which is an authoring error."""
    rendered = TOKEN.sub(lambda m: shift(today, _offset_days(m)).isoformat()[: PRECISION[m.group(4)]], text)
    if "{{" in rendered:
        raise ValueError(f"malformed date token in {text!r}: use {{{{today}}}}, {{{{today-30d}}}} or {{{{today+2w}}}}")
    return rendered


def materialize(obj: Any, today: date) -> Any:
    """A deep copy of `obj` (JSON-like: dicts, lists, scalars) with every date token rendered."""
    if isinstance(obj, str):
        return render_date(obj, today) if "{{" in obj else obj
    if isinstance(obj, dict):
        return {key: materialize(value, today) for key, value in obj.items()}
    if isinstance(obj, list):
        return [materialize(value, today) for value in obj]
    return obj
