"""Text from the patient's record as a card prints it: readable, bounded and shown once.

Record text can be anything an EHR stores: SNOMED fully specified names with their semantic tag
("Cellulitis of foot (disorder)"), line breaks that would break a markdown list or table, or megabytes
of free text. Every string a card takes from the record passes through `record_text` (tag dropped,
whitespace collapsed, length capped at a sentence boundary: never inside a sentence, keeping first the
sentences that carry a finding or a negation), and every list of evidence through `evidence_list` /
`evidence_line` (repeats dropped at sentence level across lines, the same words on several dates as one
line, count capped with "and N more"), so the response stays proportional to what the card has to say,
not to the input, and a clinician reads each sentence once."""

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
    "evidence_items",
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


# Record text is cut at sentence boundaries, never inside a sentence: a boundary is ". ", "! ", "? " or
# "; " before a capital or a digit ("XR Foot 3 Views; Pathologic calcification; Soft tissue ... No soft
# tissue gas."). "; without contrast" (lower case) stays one sentence.
_BOUNDARY = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(\[])")
# A short label before ": " says what the record is ("Radiograph of the foot (done):", "Draft order:"); it stays.
_HEAD = re.compile(r"^([^:.;]{1,60}):\s+(?=\S)")
# When not all sentences fit, those that say what was found or what was not found are kept first: a cut
# must not hide "No soft tissue gas." or "Osseous structures intact." (a reading aid, not a clinical rule).
_NEGATION = re.compile(r"\b(no|not|without|negative|absent|intact|unremarkable|normal|resolved|unchanged)\b", re.I)
_FINDING = re.compile(
    r"calcif|ossif|phlebolith|chondrocalcinosis|ca\+\+|\bmass|destruction|erosion|osteomyelitis|\bgas\b|abscess"
    r"|fluffy|speckled|lamellated|tumou?r|sarcoma|fracture",
    re.I,
)
_MAX_SEGMENTS = 60  # sentences looked at in one label (its first MAX_TEXT_CHARS * 4 characters)
MAX_SENTENCE_CHARS = 400  # one sentence longer than MAX_TEXT_CHARS is shown whole up to this, then cut at a word


def _split(text: str) -> tuple[str, list[str]]:
    """("Radiograph of the foot (done)", ["XR Foot 3 Views;", "Soft tissue ... head.", ...])."""
    head = ""
    match = _HEAD.match(text)
    if match:
        head, text = match.group(1), text[match.end():]
    segments = [s for s in _BOUNDARY.split(text) if s][:_MAX_SEGMENTS]
    if segments and segments[-1].endswith(ELLIPSIS) and len(segments) > 1:
        segments.pop()  # cut upstream inside a sentence: the whole sentences before it stay, the fragment goes
    return head, segments


def _key(segment: str) -> str:
    return " ".join(segment.lower().rstrip(" .;:,!?").split())


def _join(head: str, segments: list[str | None]) -> str:
    """Kept segments in order; `None` marks a left-out run, shown once as an ellipsis."""
    parts: list[str] = []
    for segment in segments:
        if segment is None:
            if parts and parts[-1] != ELLIPSIS:
                parts.append(ELLIPSIS)
            continue
        parts.append(segment)
    while parts and parts[0] == ELLIPSIS:
        parts.pop(0)
    body = " ".join(parts).rstrip(" ;,")
    if not head:
        return body
    return f"{head}: {body}" if body else head


def _word_cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ELLIPSIS


def _carries(segment: str) -> bool:
    """Does this sentence say what was found, or what was not?"""
    return bool(_FINDING.search(segment) or _NEGATION.search(segment))


def _fit(text: str, limit: int = MAX_TEXT_CHARS, drop: frozenset[str] = frozenset()) -> str:
    """`text` in at most `limit` characters of whole sentences, without the sentences in `drop` (keys
    shown by another line); the sentences left out are marked with an ellipsis. The sentences that carry a
    finding or a negation are kept before others. A single sentence longer than `limit` is shown whole up
    to MAX_SENTENCE_CHARS, and cut at a word beyond (free text without sentence ends)."""
    if not drop and len(text) <= limit and not text.endswith(ELLIPSIS):
        return text
    head, segments = _split(text)
    segments = [s for s in segments if _key(s) not in drop]
    whole = _join(head, list(segments))
    if len(whole) <= limit:
        return whole
    rank = sorted(range(len(segments)), key=lambda i: (0 if i == 0 else 1 if _carries(segments[i]) else 2, i))
    kept: set[int] = set()
    for i in rank:
        trial = kept | {i}
        if len(_join(head, [s if j in trial else None for j, s in enumerate(segments)])) <= limit:
            kept = trial
    if not any(_carries(segments[i]) for i in kept):
        found = next((i for i, segment in enumerate(segments) if _carries(segment)), None)
        if found is not None and len(_join(head, [segments[found]])) <= MAX_SENTENCE_CHARS:
            kept = {found}  # the finding, whole, rather than what the record is without it
    if not kept:
        return _word_cut(_join(head, segments[:1]) if segments else head, limit)
    return _join(head, [s if j in kept else None for j, s in enumerate(segments)])


def bounded(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """At most `limit` characters, otherwise unchanged: for text carried into a FHIR resource."""
    return _capped(value, limit)


def record_text(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """One line of at most `limit` characters of whole sentences (`_fit`), without SNOMED semantic tags."""
    return _fit(_normal(value, limit), limit)


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


# A sentence this long, repeated on one day in two records, is one report copied: it is shown once.
_COPIED_SENTENCE_CHARS = 40


def _lines(rows: Iterable[Mapping[str, Any]], *, dated: bool = True, one_per_record: bool = False) -> list[str]:
    """Evidence rows as card lines, each record once and no sentence twice.

    A row is left out when its label is empty, when it names a Condition already listed (one problem
    can back two questions, in two wordings), or when its reference was shown (same record). Among rows of
    one date or one record, sentences are compared (`_split`): a row all of whose sentences another row
    shows is left out when that row fits whole in MAX_TEXT_CHARS; otherwise those sentences are taken out
    of the longer row and the short row stays (so the long row does not lose its own finding to the cut).
    A sentence of another row of the same record, or a long sentence repeated on the same day, is shown
    once (the first time). A draft order and the reason written on it are two facts about one resource,
    and both stay in a list; on one line (`one_per_record`) a record is shown once."""
    items: list[tuple[str, date | None, str]] = []  # (label before the cap, when, reference)
    conditions: set[str] = set()
    for row in rows:
        label = _normal(row["label"], MAX_TEXT_CHARS)
        reference = row.get("reference") or ""
        if not label or reference in conditions:
            continue
        if reference.startswith("Condition/"):  # one problem, one line, whatever question it answered
            conditions.add(reference)
        items.append((label, row.get("when"), reference))
    parts = [_split(label) for label, _, _ in items]
    keys = [{_key(s) for s in segments} for _, segments in parts]
    heads = [_key(head) for head, _ in parts]

    def related(i: int, j: int) -> bool:
        return items[i][1] == items[j][1] or bool(items[i][2] and items[i][2] == items[j][2])

    # A row's containers are found through its sentences (an index sentence -> rows), not by comparing
    # all pairs: a chart of thousands of rows stays linear.
    rows_with: dict[tuple[str, object], set[int]] = {}  # (sentence, ("day", date) or ("record", ref)) -> rows
    for i, row_keys in enumerate(keys):
        for k in row_keys:
            rows_with.setdefault((k, ("day", items[i][1])), set()).add(i)
            if items[i][2]:
                rows_with.setdefault((k, ("record", items[i][2])), set()).add(i)
    dropped: set[int] = set()
    take_out: dict[int, set[str]] = {}
    for b in range(len(items)):
        if not keys[b]:
            continue
        day, record = ("day", items[b][1]), ("record", items[b][2])
        rarest = min(keys[b], key=lambda k: len(rows_with[(k, day)]))
        candidates = rows_with[(rarest, day)] | rows_with.get((rarest, record), set())
        containers = [
            a for a in sorted(candidates)
            if a != b and keys[b] <= keys[a]
            and (not heads[b] or heads[b] == heads[a])
            and (len(keys[a]) > len(keys[b]) or (keys[a] == keys[b] and a < b and heads[a] == heads[b]))
            and a not in dropped
        ]
        if not containers:
            continue
        if any(len(items[a][0]) <= MAX_TEXT_CHARS for a in containers):
            dropped.add(b)  # shown whole inside a line that fits
        else:
            for a in containers:
                take_out.setdefault(a, set()).update(keys[b])
    # One line per wording: the same words on several dates (a weekly encounter diagnosis, a report
    # copied forward) are one line with the latest date and how many entries there are.
    shown: dict[str, list[date | None]] = {}
    seen_references: set[str] = set()
    long_sentences_by_day: dict[date | None, set[str]] = {}
    sentences_by_record: dict[str, set[str]] = {}
    for i, (label, when, reference) in enumerate(items):
        if i in dropped:
            continue
        if one_per_record and reference and reference in seen_references:
            continue
        day, record = long_sentences_by_day.get(when, set()), sentences_by_record.get(reference, set())
        drop = frozenset(k for k in keys[i] if k in day or k in record or k in take_out.get(i, ()))
        if drop and drop == keys[i] and not parts[i][0]:
            continue  # every sentence is already on the card
        text = _fit(label, MAX_TEXT_CHARS, drop)
        if not text:
            continue
        dates = shown.setdefault(text, [])
        if when not in dates:
            dates.append(when)
        if reference:
            seen_references.add(reference)
            sentences_by_record.setdefault(reference, set()).update(keys[i] - drop)
        long_sentences_by_day.setdefault(when, set()).update(
            k for k in keys[i] - drop if len(k) >= _COPIED_SENTENCE_CHARS)
    return [_dated(text, dates) if dated else text for text, dates in shown.items()]


def _dated(text: str, dates: list[date | None]) -> str:
    known = sorted(d for d in dates if d is not None)
    if len(dates) == 1 or not known:
        return _shown(text, dates[0] if len(dates) == 1 else None)
    return f"{text} ({known[-1].isoformat()}; {len(dates)} entries since {known[0].isoformat()})"


def evidence_list(rows: Iterable[Mapping[str, Any]], limit: int = MAX_EVIDENCE_LINES) -> tuple[list[str], int]:
    """The lines of an evidence list ("label (date)", `_lines`), and how many more were left out."""
    kept = _lines(rows)
    return kept[:limit], max(0, len(kept) - limit)


def evidence_items(rows: Iterable[Mapping[str, Any]], *, dated: bool = True) -> list[str]:
    """The pieces `evidence_line` joins, uncapped in number: for a template to tell what it already shows."""
    return _lines(rows, dated=dated, one_per_record=True)


def evidence_line(rows: Iterable[Mapping[str, Any]], limit: int = MAX_LINE_ITEMS, *, dated: bool = True) -> str:
    """Evidence joined on one line ("A (date); B; and 2 more"): one record once, however many facts it
    backs (same reference or same words)."""
    shown = _lines(rows, dated=dated, one_per_record=True)
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
