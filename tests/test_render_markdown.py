"""Card details as a clinician's EHR shows them: every card of every fixture patient, on every hook,
parsed by a real CommonMark parser with GitHub's tables (markdown-it-py), the way the CDS Hooks Sandbox
renders `detail`. Checks the structure the markdown produces, not the template source."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from functools import cache
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from fhir_fixtures.catalog import HOOKS, PATIENTS
from tests.support.e2e_checks import carried
from tests.support.e2e_run import run_fixture

TODAY = date(2026, 11, 21)
JSON = dict[str, Any]
MARKDOWN = MarkdownIt("commonmark").enable("table")  # GitHub-flavoured: CommonMark plus tables

# SNOMED CT fully specified names end in a semantic tag; a clinician reads the preferred term without it.
SEMANTIC_TAG = re.compile(
    r"\((disorder|finding|morphologic abnormality|morphology|procedure|body structure|situation|"
    r"observable entity|qualifier value|regime/therapy|event|substance|clinical drug|product|specimen)\)",
    re.IGNORECASE,
)
TAG_IN_RECORD = re.compile(r"\s*" + SEMANTIC_TAG.pattern, re.IGNORECASE)
RECORD_TEXT_KEYS = frozenset({"text", "display", "conclusion", "description", "valueString", "comment"})


@cache
def _responses() -> list[tuple[str, str, JSON, JSON]]:
    out = []
    for patient in PATIENTS:
        for hook in HOOKS:
            request, response = run_fixture(patient, hook, TODAY)
            out += [(patient, hook, request, card) for card in response["cards"]]
    return out


CARDS = _responses()
IDS = [f"{p}:{h}:{c['source']['topic']['code']}" for p, h, _, c in CARDS]


def _plain(inline: Token) -> str:
    parts = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _blocks(detail: str) -> list[tuple[tuple[str, ...], Token]]:
    """(enclosing block types, inline token) for every inline of the parsed detail."""
    stack: list[str] = []
    out = []
    for token in MARKDOWN.parse(detail):
        if token.nesting == 1:
            stack.append(token.type.removesuffix("_open"))
        elif token.nesting == -1:
            stack.pop()
        elif token.type == "inline":
            out.append((tuple(stack), token))
    return out


def _record_texts(request: JSON) -> set[str]:
    """Every free-text string of the request's resources (prefetch and drafts), as the card may show it."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in RECORD_TEXT_KEYS and isinstance(item, str):
                    text = " ".join(TAG_IN_RECORD.sub("", item).split())
                    if len(text) > 3:
                        found.add(text)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(request.get("prefetch"))
    walk((request.get("context") or {}).get("draftOrders"))
    return found


def test_every_fixture_card_is_checked() -> None:
    nodes = Counter(node for _, _, _, c in CARDS for node in carried(c))  # folded nodes too
    assert len(CARDS) > 50 and "differential-diagnosis" in nodes and "initial-radiograph" in nodes


@pytest.mark.parametrize(("patient", "hook", "request_body", "card"), CARDS, ids=IDS)
def test_each_paragraph_and_list_item_is_one_line(patient: str, hook: str, request_body: JSON, card: JSON) -> None:
    """A bold heading glued onto the list item before it (no blank line) becomes part of that item."""
    for enclosing, inline in _blocks(card["detail"]):
        text = _plain(inline)
        assert "\n" not in text, f"{enclosing} joins source lines: {text!r}"


@pytest.mark.parametrize(("patient", "hook", "request_body", "card"), CARDS, ids=IDS)
def test_bold_headings_are_paragraphs_of_their_own(patient: str, hook: str, request_body: JSON, card: JSON) -> None:
    headings = 0
    for enclosing, inline in _blocks(card["detail"]):
        kinds = [c.type for c in inline.children or () if not (c.type == "text" and not c.content.strip())]
        if kinds and kinds[0] == "strong_open" and kinds[-1] == "strong_close" and kinds.count("strong_open") == 1:
            headings += 1
            assert enclosing == ("paragraph",), f"heading {_plain(inline)!r} inside {enclosing}"
    assert headings >= 2  # "What in the record led to this" and "What the guideline says" at least


@pytest.mark.parametrize(("patient", "hook", "request_body", "card"), CARDS, ids=IDS)
def test_tables_parse_with_every_row_complete(patient: str, hook: str, request_body: JSON, card: JSON) -> None:
    detail = card["detail"]
    tokens = MARKDOWN.parse(detail)
    if "|---" not in detail:
        return
    assert any(t.type == "table_open" for t in tokens)
    cells_per_row: list[int] = []
    for token in tokens:
        if token.type == "tr_open":
            cells_per_row.append(0)
        elif token.type in ("td_open", "th_open"):
            cells_per_row[-1] += 1
    assert len(set(cells_per_row)) == 1, cells_per_row


@pytest.mark.parametrize(("patient", "hook", "request_body", "card"), CARDS, ids=IDS)
def test_no_evidence_twice(patient: str, hook: str, request_body: JSON, card: JSON) -> None:
    """Within one line (items joined by '; ') and within one list, nothing is shown twice."""
    for enclosing, inline in _blocks(card["detail"]):
        text = _plain(inline).removeprefix("yes: ")
        text = text.split(": ", 1)[1] if enclosing[-2:] == ("list_item", "paragraph") and ": " in text else text
        items = [i.strip() for i in text.split("; ")]
        assert len(items) == len(set(items)), f"repeated in one line: {text!r}"
    lists: dict[int, list[str]] = {}
    stack: list[int] = []
    for token in MARKDOWN.parse(card["detail"]):
        if token.type == "bullet_list_open":
            stack.append(len(lists))
            lists[stack[-1]] = []
        elif token.type == "bullet_list_close":
            stack.pop()
        elif token.type == "inline" and stack:
            lists[stack[-1]].append(_plain(token))
    for items in lists.values():
        assert len(items) == len(set(items)), f"repeated list item: {items}"


@pytest.mark.parametrize(("patient", "hook", "request_body", "card"), CARDS, ids=IDS)
def test_no_snomed_semantic_tags(patient: str, hook: str, request_body: JSON, card: JSON) -> None:
    shown = [card["summary"]] + [_plain(inline) for _, inline in _blocks(card["detail"])]
    shown += [s["label"] for s in card.get("suggestions", [])]
    shown += [a["description"] for s in card.get("suggestions", []) for a in s.get("actions", [])]
    for text in shown:
        assert not SEMANTIC_TAG.search(text), text


@pytest.mark.parametrize(("patient", "hook", "request_body", "card"), CARDS, ids=IDS)
def test_record_texts_are_not_run_together(patient: str, hook: str, request_body: JSON, card: JSON) -> None:
    """Two texts from the record printed one after the other need punctuation between them: "XR Foot 3
    Views Soft tissue swelling..." reads as one sentence."""
    texts = _record_texts(request_body)
    shown = " ".join(_plain(inline) for _, inline in _blocks(card["detail"]))
    for first in texts:
        if first[-1] in ".;:!?" or first not in shown:
            continue
        for second in texts:
            assert f"{first} {second}" not in shown, f"run together: {first!r} + {second!r}"
