"""Work per text is bounded (issue 8): the facts step reads at most `MAX_TEXT_CHARS` of a text field and
normalises each text once per step, so a multi-megabyte problem name costs what a short one does.

Not timed: the test counts what text matching does (every normalisation, and the length of its input)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

import pytest

from cds_service.facts.access import MAX_TEXT_CHARS, capped, strings
from cds_service.guideline import valuesets
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_run import run_request

TODAY = date(2026, 11, 21)
PATIENT = "fc-tendinitis-no-xr"
# 3.8 MB, the size seen in the issue (it took ~15 s in the facts step).
HUGE = "Calcific tendinitis of the right foot " + "with a very long free-text note, " * 115_000 + "painful"


class _CountingPattern:
    """Stands in for `valuesets._NON_WORD`: counts each text normalised (by its first 60 characters) and
    the longest input."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.seen: Counter[str] = Counter()
        self.longest = 0

    def sub(self, replacement: str, text: str) -> str:
        self.seen[text[:60]] += 1
        self.longest = max(self.longest, len(text))
        return self.pattern.sub(replacement, text)


def _with_huge_condition_text() -> dict[str, Any]:
    request = build_request(PATIENT, "patient-view", TODAY)
    for value in request["prefetch"].values():
        for entry in (value or {}).get("entry", []) if isinstance(value, dict) else []:
            resource = entry["resource"]
            if resource["resourceType"] == "Condition" and resource["id"].endswith("-calc"):
                resource["code"]["text"] = HUGE
    return request


def test_a_multi_megabyte_condition_text_is_read_capped_and_normalised_once_per_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = _CountingPattern(valuesets._NON_WORD)  # noqa: SLF001 - the one place texts are normalised
    monkeypatch.setattr(valuesets, "_NON_WORD", counting)
    response = run_request(_with_huge_condition_text(), TODAY)
    # Still recognised by its first words, so the cards are those of the fixture.
    assert {card["source"]["topic"]["code"] for card in response["cards"]} >= {"initial-radiograph"}
    assert counting.longest <= MAX_TEXT_CHARS  # never the whole 3.8 MB
    # The capped text, normalised whole: once in selection, once in building the facts.
    assert counting.seen["calcific tendinitis of the right foot with a very long free-"] <= 2


def test_a_long_text_is_cut_at_a_word_boundary() -> None:
    text = "calcification " * 1000  # the cut falls inside a word
    (read,) = strings(text)
    assert len(read) <= MAX_TEXT_CHARS
    assert read.split()[-1] == "calcification"  # a part word ("calcif") is dropped, not read
    assert capped("short text") == "short text"
