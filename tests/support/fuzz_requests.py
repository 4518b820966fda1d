"""Hypothesis strategies for hostile CDS Hooks requests: valid requests with some values replaced.

A mutation walks from the root to a random node and replaces it (or deletes it, or inserts a key) with a
value from `HOSTILE`: wrong JSON types, numbers at the edges of what JSON and Python hold, strings with NUL,
control characters, lone surrogates and huge lengths, dates out of range, deep nesting. `where` limits the
mutations to part of the request (the envelope, the context, prefetch, feedback), so each test can say
which step it holds to account.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

__all__ = ["HOSTILE", "Path", "anywhere", "mutated"]

JSON = Any

_STRINGS = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "\udfff", "\u202e", "\n\r\t", "x" * 5000, "Patient/", "Patient/x/y",
    "urn:uuid:", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-02-30", "2026-13-01",
    "24:00:00", "-1", "1e400", "NaN", "null", "true", "{}", "[]", "http://", "https://[::1", "%00", "../..",
    "\u0000" * 10, "é" * 100, "𝄞",
])
_NUMBERS = st.one_of(
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 2**64 + 1, 10**300, 1e308, -1e308, 5e-324, 0.1, -0.0]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False),
)
_LEAVES = st.one_of(st.none(), st.booleans(), _NUMBERS, _STRINGS, st.text(max_size=20))


def _deep(depth: int) -> JSON:
    value: JSON = {"url": "x"}
    for _ in range(depth):
        value = {"extension": [value]}
    return value


HOSTILE = st.one_of(
    _LEAVES,
    st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                 max_leaves=8),
    st.sampled_from([20, 70, 150]).map(_deep),
)


Path = tuple[str | int, ...]
Where = Callable[[Path], bool]


def anywhere(path: Path) -> bool:
    return True


def _nodes(value: JSON, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _nodes(child, (*path, index))
    return found


def _parent(value: JSON, path: tuple[str | int, ...]) -> JSON:
    for part in path[:-1]:
        value = value[part]
    return value


@st.composite
def mutated(draw: Callable[..., Any], base: JSON, where: Where = anywhere, mutations: int = 4) -> JSON:
    """`base` with 1..`mutations` nodes for which `where(path)` holds replaced, deleted, or given a new
    hostile key or item."""
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, mutations))):
        candidates = [p for p in _nodes(body) if where(p)]
        if not candidates:
            break
        path = draw(st.sampled_from(sorted(candidates, key=repr)))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not path:  # the root itself
            if action == "replace":
                return draw(HOSTILE)
            continue
        parent = _parent(body, path)
        if action == "replace":
            parent[path[-1]] = draw(HOSTILE)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(st.sampled_from(["id", "resourceType", "extension", "x", ""]))] = draw(HOSTILE)
        elif isinstance(parent[path[-1]], list):
            parent[path[-1]].append(draw(HOSTILE))
    return body
