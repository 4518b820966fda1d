"""What a line can be known to hold without parsing it: its resource type, its patient, and whether it could
put the patient in the pathway.

The pathway reads nothing for a patient who is not in it (`pathway.evaluate`: no in-pathway problem, no
card), and only two things make an in-pathway problem at patient-view (facts/conditions.py `_ENTRY_SETS`,
facts/imaging.py `_finding`): a coding of an entry value set, or one of their text terms. `ENTRY_MARKER`
matches, in the raw bytes of a line, a SUPERSET of both:
  - every code of those value sets as the value of a `"code"` key (every Coding's code is one);
  - every text term as its words in order, case-insensitively, with anything between them that
    `normalise_text` makes a space (any byte not an ASCII letter or digit, or a JSON escape such as `\\n`);
    no word boundaries are asked for, so this finds more than whole-word matching does, never less;
  - anything that could hide letters from a byte search: a JSON `\\u` escape, and the two characters whose
    `str.lower()` holds an ASCII letter (U+0130, U+212A).
A patient none of whose lines matches is outside the pathway whatever else the lines say, so the screen
counts them without parsing a line; every other patient is parsed and judged in full. Superset by
construction; tests/test_screening_equality.py proves the result equal to patient-view's for every
fixture patient.
"""

from __future__ import annotations

import re
from functools import cache

from cds_service.guideline.valuesets import load_valuesets
from cds_service.services import prefetch_templates

__all__ = [
    "ENTRY_SETS",
    "FastPath",
    "entry_marker",
    "fast_path",
    "patient_key",
    "patient_key_in",
    "queried_types",
    "resource_type_of",
]

# The value sets whose match makes an in-pathway problem at patient-view (checked against
# facts.conditions._ENTRY_SETS and facts.imaging by tests/test_screening_prefilter.py).
ENTRY_SETS = (
    "calcification-foot-site",
    "calcification-concept",
    "soft-tissue-mass-foot",
    "soft-tissue-mass",
    "imaging-calcification-finding",
)

_TYPE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]{1,64})"')
# FHIR ids: [A-Za-z0-9\-\.]{1,64}; a reference relative (Patient/x) or absolute (.../Patient/x).
_SUBJECT = re.compile(
    rb'"(?:subject|patient)"\s*:\s*\{[^{}]*?"reference"\s*:\s*"(?:[^"]*/)?Patient/([A-Za-z0-9\-.]{1,64})"'
)
_ID_CHARS = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def resource_type_of(line: bytes) -> str | None:
    found = _TYPE.search(line)
    return found.group(1).decode("ascii") if found else None


def patient_key(line: bytes) -> str | None:
    """The id of the patient a (non-Patient) resource line is about, by byte search: its `subject` or
    `patient` reference. None when the search finds none (the caller parses the line to be sure)."""
    found = _SUBJECT.search(line)
    return found.group(1).decode("ascii") if found else None


def patient_key_in(chunk: bytes, start: int, end: int) -> bytes | None:
    """`patient_key` of the line chunk[start:end], in place (no copy of the line), as ASCII bytes."""
    found = _SUBJECT.search(chunk, start, end)
    return found.group(1) if found else None


def valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_CHARS.match(value) is not None


@cache
def queried_types() -> frozenset[str]:
    """The resource types some prefetch query of the service reads; lines of any other type cannot matter."""
    types = set()
    for _, template in prefetch_templates():
        path = template.split("?", 1)[0]
        types.add(path.split("/", 1)[0])
    return frozenset(types)


def _words(term: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", term.lower()) if w]


# Between two words of a term in the raw JSON: anything `normalise_text` turns into a space (any byte that is
# not an ASCII letter or digit) or a JSON escape of a control character (`\n`: a backslash and a letter).
_SEPARATOR = rb"(?:\\[nrtbf]|[^a-z0-9])+"
# Characters whose str.lower() holds an ASCII letter (U+0130 -> "i̇", U+212A KELVIN SIGN -> "k"), as UTF-8,
# and any \u escape: what could make letters a byte search does not see.
_PLAIN_VALUE = re.compile(rb'[^"\\]{1,64}')  # a JSON string value a byte search can read: no quote, no escape
_HIDDEN = (b"\\u", "\u0130".encode(), "\u212a".encode())


class EntryMarker:
    """`matches(raw)`: whether raw NDJSON bytes could hold an entry coding or text term (see module doc).

    Two RE2 searches (linear-time automata, ~0.5-1 GB/s here, where `re` ran the phrase alternation at
    ~50 MB/s and was the screen's largest cost per patient outside the pathway): one over the raw bytes
    for a hidden-letter sequence or an entry code as a `"code"` value, one over the lowercased bytes for a
    phrase. Latin-1 mode: a pattern byte matches that byte, as `re` does for bytes."""

    def __init__(self, codes: frozenset[bytes], phrases: bytes) -> None:
        self.codes = codes
        plain = sorted((c for c in codes if _PLAIN_VALUE.fullmatch(c)), key=lambda c: (-len(c), c))
        raw = [re.escape(h) for h in _HIDDEN]
        if plain:  # "code"\s*:\s*"<an entry code>" (JSON whitespace; `re`'s \s spelled out)
            raw.append(rb'"code"[ \t\n\r\f\v]*:[ \t\n\r\f\v]*"(?:' + b"|".join(re.escape(c) for c in plain) + b')"')
        self.raw = _re2(b"|".join(raw))
        self.phrases = _re2(phrases) if phrases else None

    def matches(self, raw: bytes) -> bool:
        # Every Coding's code is under the key "code" (an escaped key is caught by the \u rule).
        if self.raw.search(raw) is not None:
            return True
        return self.phrases is not None and self.phrases.search(raw.lower()) is not None


def _re2(pattern: bytes):  # noqa: ANN202 - re2._Regexp
    import re2

    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.max_mem = 64 << 20  # the phrase automaton; RE2 falls back to slower matching, never fails, above it
    return re2.compile(pattern, options)


@cache
def entry_marker() -> EntryMarker:
    valuesets = load_valuesets()
    codes: set[bytes] = set()
    phrases: set[bytes] = set()
    for name in ENTRY_SETS:
        value_set = valuesets[name]
        codes |= {c.encode() for c in value_set.codes}
        for term in value_set.text_terms:
            words = _words(term)
            if words:
                phrases.add(_SEPARATOR.join(re.escape(w.encode()) for w in words))
    pattern = b"|".join(sorted(phrases, key=lambda p: (-len(p), p)))
    return EntryMarker(frozenset(codes), pattern)


class FastPath:
    """For a file of one resource type: whether a chunk is uniform (every line one framed object of that type,
    the common case), and, for a type every query of which filters by code, category or status, the lines
    that hold one of the filter values: a SUPERSET of the lines any query can return (a query token is a
    Coding's code or the status, so the line holds it as a "code" or "status" value; an escaped key or value
    holds a \\u escape: such a chunk is not uniform for a filtered type).

    Both are a few whole-chunk scans in C (bytes.count, one compiled alternation of the filter values): no
    Python work per line, and per candidate line only (pass 1's cost on the bulk of an export)."""

    def __init__(self, resource_type: str, values: frozenset[tuple[bytes, bytes]] | None) -> None:
        self.start = b'{"resourceType":"' + resource_type.encode() + b'"'
        self.joint = b"}\n" + self.start  # between two framed lines of the type
        self.values = values  # None: every line of the type can matter
        self.pattern = _filter_pattern(values) if values else None

    def uniform(self, chunk: bytes, count: int) -> bool:
        # Every newline but the last sits between "}" and the type's opening, and the last follows "}": one
        # scan for the pair (a joint holds one newline, so `count - 1` joints means every inner newline).
        if not (chunk.startswith(self.start) and chunk.endswith(b"}\n") and chunk.count(self.joint) == count - 1):
            return False
        # An escape could hide a filter value from the byte search: only a filtered type needs to look.
        # (A backslash first, by memchr: most chunks have none, and a two-byte search is many times slower.)
        return self.pattern is None or b"\\" not in chunk or b"\\u" not in chunk

    def candidates(self, chunk: bytes) -> list[int]:
        """Offsets of the lines that can matter (all of them when the type has no filter)."""
        if self.values is None:
            starts = [0]
            find = chunk.find
            at = find(b"\n")
            while at != -1 and at + 1 < len(chunk):
                starts.append(at + 1)
                at = find(b"\n", at + 1)
            return starts
        if self.pattern is None:
            return []
        found: list[int] = []
        last = -1
        rfind = chunk.rfind
        for match in self.pattern.finditer(chunk):  # only filter values match: a few per chunk
            begin = rfind(b"\n", 0, match.start()) + 1
            if begin != last:
                found.append(begin)
                last = begin
        return found


def _filter_pattern(values: frozenset[tuple[bytes, bytes]]) -> re.Pattern[bytes] | None:
    """`"code": "<v>"` / `"status": "<v>"` for exactly the filter values, a JSON string value of the key in the
    raw bytes (the search filters of the service's queries), in one C-level search."""
    branches = []
    for key in (b"code", b"status"):
        wanted = sorted((v for k, v in values if k == key and _PLAIN_VALUE.fullmatch(v)), key=lambda v: (-len(v), v))
        if wanted:
            branches.append(b'"' + key + rb'"\s*:\s*"(?:' + b"|".join(re.escape(v) for v in wanted) + b')"')
    return re.compile(b"|".join(branches)) if branches else None


@cache
def fast_path(resource_type: str | None) -> FastPath | None:
    """The fast path for a file of `resource_type` (from the manifest or its name); None when unknown."""
    if resource_type is None or not re.fullmatch(r"[A-Z][A-Za-z]{1,63}", resource_type):
        return None
    if resource_type not in queried_types():
        return FastPath(resource_type, frozenset())  # no query reads the type: no line is a candidate
    if resource_type == "Patient":
        return FastPath(resource_type, None)
    values: set[tuple[bytes, bytes]] = set()
    from urllib.parse import parse_qsl, unquote

    for _, template in prefetch_templates():
        path, _, query = template.partition("?")
        if path != resource_type:
            continue
        filters = [(name, raw) for name, raw in parse_qsl(query) if name in ("code", "category", "status")]
        if not filters:
            return FastPath(resource_type, None)  # one unfiltered query: every line can matter
        for name, raw in filters:
            key = b"status" if name == "status" else b"code"
            for token in raw.split(","):
                values.add((key, unquote(token).rpartition("|")[2].encode()))
    return FastPath(resource_type, frozenset(values))
