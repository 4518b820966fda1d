"""Text from the patient's record as a card prints it: readable, bounded and shown once.

Record text can be anything an EHR stores: SNOMED fully specified names with their semantic tag
("Cellulitis of foot (disorder)"), line breaks that would break a markdown list or table, or megabytes
of free text. Every string a card takes from the record passes through `record_text` (tag dropped,
whitespace collapsed, length capped), and every list of evidence through `evidence_list` /
`evidence_line` (repeats dropped, count capped with "and N more"), so the response stays proportional
to what the card has to say, not to the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

__all__ = [
    "MAX_EVIDENCE_LINES",
    "MAX_LINE_ITEMS",
    "MAX_TEXT_CHARS",
    "bounded",
    "evidence_line",
    "evidence_list",
    "record_text",
    "record_values",
    "separate_blocks",
]

MAX_TEXT_CHARS = 200  # one label, finding or draft name on a card
MAX_EVIDENCE_LINES = 10  # lines under "What in the record led to this"
MAX_LINE_ITEMS = 5  # pieces of evidence joined in one line (a class, a table cell)
ELLIPSIS = "\u2026"

# The semantic tags that end SNOMED CT fully specified names (plus "morphology", seen in real data for
# "morphologic abnormality"). The preferred term, which a clinician reads, has none.
_SEMANTIC_TAGS = (
    "disorder", "finding", "morphologic abnormality", "morphology", "procedure", "body structure",
    "situation", "observable entity", "qualifier value", "regime/therapy", "event", "substance",
    "specimen", "organism", "physical object", "clinical drug", "medicinal product", "record artifact",
    "environment", "attribute", "staging scale", "assessment scale", "tumor staging", "cell structure",
    "cell", "disposition",
)
_SEMANTIC_TAG = re.compile(r"\s*\((?:" + "|".join(re.escape(t) for t in _SEMANTIC_TAGS) + r")\)", re.IGNORECASE)


# What _normal would change: outer or repeated spaces, line breaks and other white space, tags.
_TIDY = re.compile(r"^\s|\s$|\s\s|[^\S ]|\(")


def _normal(value: str, limit: int) -> str:
    if len(value) <= limit and not _TIDY.search(value):
        return value  # the common case: a short, clean label
    # Never scan megabytes for a line that keeps `limit` characters.
    return " ".join(_SEMANTIC_TAG.sub("", value[: limit * 4]).split())


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def bounded(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """At most `limit` characters, otherwise unchanged: for text carried into a FHIR resource."""
    return _capped(value, limit)


def record_text(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """One line of at most `limit` characters, without SNOMED semantic tags."""
    return _capped(_normal(value, limit), limit)


def record_values(value: Any) -> Any:
    """`record_text` applied to every string inside template variables (lists, tuples, dicts)."""
    if isinstance(value, str):
        return record_text(value)
    if isinstance(value, Mapping):
        return {key: record_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [record_values(item) for item in value]
    return value


def _shown(label: str, when: date | None) -> str:
    return f"{label} ({when.isoformat()})" if when else label


def _shows_whole(line: str, part: str) -> bool:
    """`part` appears in `line` as whole words ("Problem 1" is not in "Problem 10")."""
    start = line.find(part)
    while start != -1:
        end = start + len(part)
        if (start == 0 or not line[start - 1].isalnum()) and (end == len(line) or not line[end].isalnum()):
            return True
        start = line.find(part, start + 1)
    return False


def evidence_list(rows: Iterable[Mapping[str, Any]], limit: int = MAX_EVIDENCE_LINES) -> tuple[list[str], int]:
    """The lines of an evidence list ("label (date)"), each once, and how many more were left out.

    A line is left out when it repeats another, when it names a Condition already listed (one problem
    can back two questions, in two wordings), or when another line of the same date shows all of it (a
    radiograph line that quotes its report's finding in full, and the finding on its own). A draft order
    and the reason written on it are two facts about one resource, and both stay."""
    lines: list[tuple[str, str, date | None]] = []  # (shown, full label, date)
    conditions: set[str] = set()
    for row in rows:
        label = _normal(row["label"], MAX_TEXT_CHARS)  # compared before the cap, shown after it
        reference = row.get("reference") or ""
        if not label or reference in conditions:
            continue
        if reference.startswith("Condition/"):  # one problem, one line, whatever question it answered
            conditions.add(reference)
        lines.append((_shown(_capped(label, MAX_TEXT_CHARS), row.get("when")), label, row.get("when")))
    labels_of_day: dict[date | None, list[str]] = {}  # a line is compared with the lines of its own date
    for _, label, when in lines:
        labels_of_day.setdefault(when, []).append(label)
    kept = []
    earlier: set[str] = set()
    for shown, label, when in lines:
        repeated = shown in earlier
        earlier.add(shown)
        contained = any(
            label != other_label and _shows_whole(other_label, label)
            and len(other_label) <= MAX_TEXT_CHARS  # shown whole, so nothing is lost
            for other_label in labels_of_day[when]
        )
        if not repeated and not contained:
            kept.append(shown)
    return kept[:limit], max(0, len(kept) - limit)


def evidence_line(rows: Iterable[Mapping[str, Any]], limit: int = MAX_LINE_ITEMS, *, dated: bool = True) -> str:
    """Evidence joined on one line ("A (date); B; and 2 more"): one record once, however many facts it
    backs (same reference or same words)."""
    shown: list[str] = []
    references: set[str] = set()
    for row in rows:
        label = record_text(row["label"])
        reference = row.get("reference")
        text = _shown(label, row.get("when") if dated else None)
        if not label or text in shown or (reference and reference in references):
            continue
        shown.append(text)
        if reference:
            references.add(reference)
    more = len(shown) - limit
    return "; ".join(shown[:limit]) + (f"; and {more} more" if more > 0 else "")


def _kind(line: str) -> str:
    if line.startswith(("- ", "* ")):
        return "list"
    if line.startswith("|"):
        return "table"
    if line.startswith(">"):
        return "quote"
    return "paragraph"


def separate_blocks(markdown: str) -> str:
    """One paragraph per line: a blank line between any two lines except consecutive list items, table
    rows or quote lines (one tight list, one table, one quote). Templates write every paragraph on one line; this makes
    sure no heading or sentence is read as the continuation of the list item or paragraph above it."""
    out: list[str] = []
    previous = ""
    for line in markdown.splitlines():
        line = line.rstrip()
        if not line:  # the template's own blank lines are redone here
            continue
        kind = _kind(line)
        if out and not (kind == previous and kind != "paragraph"):
            out.append("")
        out.append(line)
        previous = kind
    return "\n".join(out) + "\n"
