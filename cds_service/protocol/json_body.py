"""A request body -> one JSON value, parsed once and fast, within limits; otherwise a `BadRequest`.

orjson does the parsing. It refuses invalid UTF-8, lone surrogates (raw or escaped), NaN and Infinity,
numbers too large for a double (so a 4,300-digit integer is a 400, not the interpreter's int-conversion
limit) and a byte-order mark. What it does not do, added here at almost no cost:

- A depth limit of our own (`MAX_DEPTH`). FHIR data sits within ~20 levels, and anything that walks the
  value recursively later (pydantic, the FHIR models, Python recursion) must never meet 1,000 levels.
  orjson stops at a fixed depth (1,024, measured at import); the body is parsed inside that many minus
  `MAX_DEPTH` extra brackets, so orjson's own check, in C, enforces our limit.
- Duplicate object keys are refused (orjson keeps the last one silently; a proxy or the EHR may have read
  the first). Detected by counting colons: see `_has_duplicate_keys`. Only then is the body parsed a second
  time, slowly, to name the key.

Integers beyond 64 bits become floats in orjson; FHIR has no such integers, and validation downstream
refuses a float where an integer belongs.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import orjson

from cds_service.errors import BadRequest, ServiceError

__all__ = [
    "MAX_DEPTH",
    "MAX_JSON_VALUES",
    "MAX_RESOURCE_DEPTH",
    "BodyTooLarge",
    "json_type_name",
    "json_values",
    "loads",
    "nests_deeper_than",
]

# Objects and arrays nested in one another, the body itself being level 1. A CDS Hooks request with a FHIR
# Bundle in prefetch is ~15 levels. The body may nest deeper than one resource may (MAX_RESOURCE_DEPTH), so
# a prefetch resource a little too deep is left out as a data issue while the call answers; beyond this the
# whole body is a 400 naming the place. (It must stay under 255: the duplicate-key check re-serialises the
# body with orjson, which stops there.)
MAX_DEPTH = 64
# JSON nesting within one FHIR resource. R4 resources the pathway reads nest about 10 deep; complex
# extensions add a few levels. A deeper draft order is a 400 (protocol), a deeper prefetch or fetched
# resource a data issue (gathering), before anything recurses through it (model validation recurses once
# per level).
MAX_RESOURCE_DEPTH = 32

# JSON values (objects, arrays, strings, numbers...) in one body, at most. Real FHIR JSON holds one value per
# 25-35 bytes (a 5 MB prefetch: ~200,000); a body of `{}` entries holds one per 3 bytes and costs ~70 bytes
# of memory each once parsed (a 4.9 MB one took 234 MiB). Counted before parsing, and only for bodies
# large enough to hold more (a count costs ~0.1 ms per 100 KB), so parsed memory stays proportional to the
# bytes of real data with a fixed ceiling (~50 MB per body).
MAX_JSON_VALUES = 600_000

_SHOWN_PATH_PARTS = 8  # a field path in an error names at most this many levels, then "..."
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_$\-]{1,64}$")  # keys shown in field names; others are not echoed
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")
_DEPTH_PROBLEM = f"is nested more than {MAX_DEPTH} levels deep"


def _orjson_depth_ceiling() -> int:
    """The deepest nesting orjson parses (1,024 in every release so far), found by bisection."""

    def parses(depth: int) -> bool:
        try:
            orjson.loads(b"[" * depth + b"]" * depth)
        except orjson.JSONDecodeError:
            return False
        return True

    low, high = 1, 1 << 16
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if parses(middle) else (low, middle - 1)
    return low


_PADDING = _orjson_depth_ceiling() - MAX_DEPTH
if _PADDING < 0:  # pragma: no cover - an orjson that nests less deeply than we allow
    raise RuntimeError(f"orjson parses only {MAX_DEPTH + _PADDING} levels; MAX_DEPTH is {MAX_DEPTH}")
_OPEN, _CLOSE = b"[" * _PADDING, b"]" * _PADDING


class BodyTooLarge(ServiceError):
    """More JSON values than `MAX_JSON_VALUES`: 413, like a body over the byte limit."""

    status_code = 413
    kind = "payload_too_large"


def json_values(content: bytes) -> int:
    """An upper bound on the JSON values in `content` (one per `{`, `[` or `,`, plus one)."""
    return content.count(b"{") + content.count(b"[") + content.count(b",") + 1


def loads(raw: bytes) -> Any:
    """The JSON value of `raw`, or `BadRequest` naming the problem (and the field, when there is one)."""
    if not raw or raw.isspace():  # (not `raw.strip()`: that copies a body ending in a newline)
        raise BadRequest([{"field": "(body)", "problem": "is empty; expected a JSON object"}])
    if len(raw) > MAX_JSON_VALUES and json_values(raw) > MAX_JSON_VALUES:
        raise BodyTooLarge(f"request body holds more than {MAX_JSON_VALUES} JSON values")
    try:
        value = orjson.loads(b"".join((_OPEN, raw, _CLOSE)))
    except orjson.JSONDecodeError as exc:
        raise BadRequest([_parse_issue(raw, exc)]) from None
    for _ in range(_PADDING):
        # Each padding level must hold exactly the one value: `1],[2` would otherwise parse, padded.
        if type(value) is not list or len(value) != 1:
            raise BadRequest([{"field": "(body)", "problem": "is not valid JSON (unexpected content after document)"}])
        value = value[0]
    if isinstance(value, dict | list) and _has_duplicate_keys(raw, value):
        raise BadRequest([_duplicate_key_issue(raw)])
    return value


def _parse_issue(raw: bytes, exc: orjson.JSONDecodeError) -> dict[str, str]:
    if "depth" in exc.msg or "recursion" in exc.msg:
        return {"field": _field(_first_path_deeper_than(raw, MAX_DEPTH)), "problem": _DEPTH_PROBLEM}
    # Positions are the body's own: the padding is on line 1 only. orjson's messages are fixed phrases
    # ("unexpected character", "str is not valid UTF-8: ...") that never quote the input.
    column = exc.colno - _PADDING if exc.lineno == 1 else exc.colno
    if column < 1:
        return {"field": "(body)", "problem": "is not valid JSON"}
    reason = exc.msg.split(":")[0][:80]
    return {"field": "(body)", "problem": f"is not valid JSON ({reason}) at line {exc.lineno} column {column}"}


def _has_duplicate_keys(raw: bytes, value: Any) -> bool:
    """Whether orjson dropped a key, judged by counting colons in the body and in the value re-serialised.

    In JSON text a colon is either a key/value separator or a character inside a string (numbers and
    literals have none), and orjson writes string colons as they are. So unless the body spells one as
    the escape `\\u003a`, both texts hold the same colons in strings, and the parsed value has fewer
    colons in all only if pairs were dropped: that is, only if a key came twice. (Dropping a pair drops at
    least its separator.) With `\\u003a` in the body, decide by the slow parse.
    """
    if b"\\u003" in raw and _ESCAPED_COLON.search(raw):
        return _duplicate_key_path(raw) is not None
    return raw.count(b":") != orjson.dumps(value).count(b":")


class _Seen(dict):  # type: ignore[type-arg]
    """A JSON object from the slow parse, with the keys that appeared in it more than once."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Seen:
    result = _Seen(pairs)
    result.duplicates = []
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                result.duplicates.append(key)
            seen.add(key)
    return result


def _duplicate_key_path(raw: bytes) -> tuple[str | int, ...] | None:
    """Where the shallowest duplicated key is, from a slow parse (depth is already known to be small)."""
    queue: deque[tuple[Any, tuple[str | int, ...]]] = deque([(json.loads(raw, object_pairs_hook=_pairs_hook), ())])
    while queue:
        node, path = queue.popleft()
        if isinstance(node, _Seen):
            if node.duplicates:
                return (*path, node.duplicates[0])
            queue.extend((child, (*path, key)) for key, child in node.items())
        elif isinstance(node, list):
            queue.extend((child, (*path, index)) for index, child in enumerate(node))
    return None


def _duplicate_key_issue(raw: bytes) -> dict[str, str]:
    path = _duplicate_key_path(raw)
    return {"field": _field(path or ()), "problem": "appears more than once in its object (duplicate JSON key); "
            "send each key once"}


def _first_path_deeper_than(raw: bytes, limit: int) -> tuple[str | int, ...]:
    """The path to the first object or array nested deeper than `limit` (or () past orjson's own ceiling)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ()
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= limit:
            return path
        if isinstance(node, dict):
            stack.extend((child, (*path, key)) for key, child in node.items() if isinstance(child, dict | list))
        elif isinstance(node, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(node) if isinstance(child, dict | list))
    return ()


def _field(path: tuple[str | int, ...]) -> str:
    """`context.draftOrders.entry[0].resource`, cut after a few levels; keys that are not plain names are
    not echoed (a key is request data too)."""
    text = ""
    for part in path[:_SHOWN_PATH_PARTS]:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + (part if _PLAIN_KEY.match(part) else "(key)")
    if len(path) > _SHOWN_PATH_PARTS:
        text += "..."
    return text or "(body)"


def nests_deeper_than(value: Any, limit: int = MAX_RESOURCE_DEPTH) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels deep. Recursion stops at `limit`,
    so it is safe on any input; exact types, because this runs on every resource of every call."""
    if limit <= 0:
        return True
    for child in value.values() if type(value) is dict else value:
        kind = type(child)
        if (kind is dict or kind is list) and nests_deeper_than(child, limit - 1):
            return True
    return False


def json_type_name(value: Any) -> str:
    """JSON's name for the type of a parsed value ("array", "object", "string"...), for messages."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__
