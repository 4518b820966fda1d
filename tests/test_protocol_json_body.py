"""The request-body parser: orjson with a depth limit and duplicate keys refused, each a 400 naming the field.

The property test checks the padded depth limit and the colon-counting duplicate-key check
(json_body._has_duplicate_keys) against a plain reference on generated JSON texts with every kind of
escape, whitespace and duplicate.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.errors import BadRequest
from cds_service.protocol.json_body import MAX_DEPTH, loads


def issues(raw: bytes) -> list[dict[str, str]]:
    with pytest.raises(BadRequest) as caught:
        loads(raw)
    return caught.value.extra["issues"]


def test_duplicate_key_is_named() -> None:
    assert issues(b'{"hook":"patient-view","context":{"patientId":"a","patientId":"b"}}') == [
        {"field": "context.patientId",
         "problem": "appears more than once in its object (duplicate JSON key); send each key once"}
    ]


def test_duplicate_key_written_with_an_escape_is_still_a_duplicate() -> None:
    assert issues(b'{"\\u0068ook":1,"hook":2}')[0]["field"] == "hook"


def test_same_key_in_different_objects_is_fine() -> None:
    assert loads(b'{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}]}') == {
        "a": {"id": 1}, "b": {"id": 2}, "c": [{"id": 3}, {"id": 4}]
    }


def test_a_body_nested_a_thousand_levels_is_a_400() -> None:
    (issue,) = issues(b"[" * 1000 + b"]" * 1000)
    assert issue["problem"] == f"is nested more than {MAX_DEPTH} levels deep"


def test_beyond_orjsons_own_ceiling_is_the_same_400() -> None:
    (issue,) = issues(b"[" * 5000 + b"]" * 5000)
    assert issue == {"field": "(body)", "problem": f"is nested more than {MAX_DEPTH} levels deep"}


def test_a_draft_order_nested_150_extensions_deep_names_the_field() -> None:
    resource = b'{"resourceType":"ServiceRequest","id":"d1",' + b'"extension":[{' * 150 + b'"url":"x"' + b"}]" * 150 + b"}"
    body = b'{"context":{"draftOrders":{"resourceType":"Bundle","entry":[{"resource":' + resource + b"}]}}}"
    (issue,) = issues(body)
    assert issue["field"].startswith("context.draftOrders.entry[0].resource.extension[0]")
    assert issue["problem"] == f"is nested more than {MAX_DEPTH} levels deep"


def test_exactly_at_the_depth_limit_parses() -> None:
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    issues(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"1" * 4301, "not valid JSON"),  # past the interpreter's int-conversion limit
        (b'{"a": 1e400}', "not valid JSON"),
        (b'{"a": "\\ud800"}', "surrogate"),  # an escaped lone surrogate
        ('{"a": "\ud800"}'.encode("utf-8", "surrogatepass"), "not valid JSON"),  # a raw one
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b'{"a": 1} trailing', "not valid JSON"),
        (b"", "is empty"),
    ],
)
def test_what_orjson_refuses_is_a_400(raw: bytes, words: str) -> None:
    (issue,) = issues(raw)
    assert issue["field"] == "(body)" and words in issue["problem"]


def test_errors_never_echo_a_value_or_an_odd_key() -> None:
    secret = "patient-1234567"
    (issue,) = issues(json.dumps({"a": [secret]}).encode()[:-2])
    assert secret not in json.dumps(issue)
    (issue,) = issues(b'{"' + secret.encode() + b' x":1,"' + secret.encode() + b' x":2}')
    assert secret not in json.dumps(issue) and issue["field"] == "(key)"


# Property: the byte-counting checks agree with a plain reference ----------------------------------------

KEYS = st.sampled_from(["a", "id", "b\"", "c\\", "d:", "e\\\"", "\u00e9", "f g", ":", "\"", "\\", "x\\\\\":"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), KEYS,
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # An object is kept as its list of pairs, so it can hold the same key twice.
    return st.one_of(st.lists(children, max_size=4), st.lists(st.tuples(KEYS, children), max_size=4).map(tuple))


TREES = st.recursive(SCALARS, _objects, max_leaves=40)


def _text(tree: Any, ascii_only: bool, space: str) -> str:
    if isinstance(tree, tuple):  # an object, as pairs
        inner = ("," + space).join(
            json.dumps(k, ensure_ascii=ascii_only) + space + ":" + space + _text(v, ascii_only, space) for k, v in tree
        )
        return "{" + space + inner + space + "}"
    if isinstance(tree, list):
        return "[" + space + ("," + space).join(_text(v, ascii_only, space) for v in tree) + space + "]"
    return json.dumps(tree, ensure_ascii=ascii_only)


def _depth(tree: Any) -> int:
    if isinstance(tree, tuple):
        return 1 + max((_depth(v) for _, v in tree), default=0)
    if isinstance(tree, list):
        return 1 + max((_depth(v) for v in tree), default=0)
    return 0


def _has_duplicates(tree: Any) -> bool:
    if isinstance(tree, tuple):
        keys = [k for k, _ in tree]
        return len(set(keys)) != len(keys) or any(_has_duplicates(v) for _, v in tree)
    if isinstance(tree, list):
        return any(_has_duplicates(v) for v in tree)
    return False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES, ascii_only=st.booleans(), space=st.sampled_from(["", " ", "\n\t"]), wrap=st.integers(0, 70))
def test_counting_checks_agree_with_the_reference(tree: Any, ascii_only: bool, space: str, wrap: int) -> None:
    raw = ("[" * wrap + _text(tree, ascii_only, space) + "]" * wrap).encode()
    duplicated = _has_duplicates(tree)
    too_deep = wrap + _depth(tree) > MAX_DEPTH
    if duplicated or too_deep:
        (issue,) = issues(raw)
        assert ("nested more than" in issue["problem"]) == too_deep
    else:
        assert loads(raw) == json.loads(raw)


@pytest.mark.parametrize("raw", [b'{"a":1}],["x"', b"1],[2", b"[1]]", b"[[1", b'{"a":1}]', b"]"])
def test_text_that_only_parses_inside_the_padding_is_refused(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        loads(raw)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet='[]{},:"\\ 01aeu-.', max_size=30))
def test_whatever_parses_is_the_same_json_the_standard_library_reads(text: str) -> None:
    try:
        value = loads(text.encode())
    except BadRequest:
        return
    assert json.loads(text) == value


def test_a_body_of_too_many_json_values_is_413_before_it_is_parsed() -> None:
    from cds_service.protocol.json_body import MAX_JSON_VALUES, BodyTooLarge

    body = b'{"prefetch": {"k": {"resourceType": "Bundle", "entry": [' + b",".join([b"{}"] * MAX_JSON_VALUES) + b"]}}}"
    with pytest.raises(BodyTooLarge) as raised:
        loads(body)
    assert raised.value.status_code == 413


def test_a_large_body_of_real_data_is_under_the_value_limit() -> None:
    from datetime import date

    from benchmarks.bench_patients import padded_request

    body = json.dumps(padded_request(6_000, True, date(2026, 11, 21))).encode()  # ~3.5 MB of FHIR JSON
    assert len(body) > 3_000_000
    assert loads(body)["hook"] == "patient-view"
