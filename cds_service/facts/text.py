"""Recognising a concept in FHIR data: codes first, then whole-word text (spec "Text matching").

`match_concepts` is what every fact uses on CodeableConcepts. `affirmed_term` reads free report text
(imaging conclusions) and ignores a term that a nearby negation ("no", "without", "negative for"...)
turns around, so "no soft tissue calcification" does not put a patient in the pathway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cds_service.facts.access import codings, concept_texts
from cds_service.guideline.valuesets import Member, ValueSet, normalise_text

__all__ = [
    "NEGATION_WINDOW_WORDS",
    "Match",
    "affirmed_term",
    "label_of",
    "match_concepts",
    "match_read",
    "side_in_text",
    "statement_cue",
]

# A negation cue this many words before a term cancels it (a small NegEx-style window).
NEGATION_WINDOW_WORDS = 5
_NEGATIONS = (
    " no ",
    " not ",
    " without ",
    " negative for ",
    " absence of ",
    " absent ",
    " free of ",
    " rule out ",
    " ruled out ",
    " resolved ",
    " no evidence of ",
    " neither ",
    " nor ",
)
# After a term, anywhere in the rest of its sentence: "calcification seen on the prior study has resolved".
_NEGATIONS_AFTER = (" resolved ", " ruled out ", " excluded ", " no longer ", " not seen ", " not present ")
# A problem's own words that take it out of the present: at the start of its text, or at its end.
_NEGATED_OPENINGS = (" no ", " not ", " negative for ", " no evidence of ", " no sign of ", " no signs of ",
                     " without ", " denies ", " denied ", " ruled out ", " rule out ", " r o ", " absence of ")
_HISTORICAL_OPENINGS = (" history of ", " hx of ", " h o ", " past history of ", " personal history of ",
                        " family history of ", " status post ", " s p ", " previous ", " prior ", " old ",
                        " healed ", " resolved ", " former ")
_NEGATED_ENDINGS = (" ruled out ", " excluded ", " not confirmed ", " negative ")
_HISTORICAL_ENDINGS = (" resolved ", " healed ", " in remission ", " history ", " historical ", " old ")
_SENTENCE_BREAK = re.compile(r"[.;:\n]+")
_LEFT = (" left ", " lt ", " sinistra ")
_RIGHT = (" right ", " rt ", " dextra ")
_BOTH = (" bilateral ", " both ", " bilaterally ")


@dataclass(frozen=True, slots=True)
class Match:
    value_set: str
    member: Member | None  # the coding that matched; None when text did
    term: str | None = None  # the text term that matched
    text: str | None = None  # the text it was found in

    @property
    def by_text(self) -> bool:
        return self.member is None

    @property
    def concept(self) -> str | None:
        if self.member is not None:
            return self.member.concept or self.member.family or self.member.code
        return self.term


def match_concepts(value_set: ValueSet, concept_list: Iterable[Any], *, text: bool = True) -> Match | None:
    """The value set's first coding among the concepts; failing that (and `text`), its first text term."""
    concept_list = [c for c in concept_list if c is not None]
    member = value_set.member(codings(*concept_list))
    if member is not None:
        return Match(value_set.name, member)
    if not text:
        return None
    return match_read(value_set, (), concept_texts(*concept_list))


def match_read(
    value_set: ValueSet, pairs: Iterable[tuple[str | None, str | None]], texts: Iterable[str]
) -> Match | None:
    """`match_concepts` on codings and texts read already: for one concept tested against many value sets."""
    member = value_set.member(pairs)
    if member is not None:
        return Match(value_set.name, member)
    for candidate in texts:
        term = value_set.matched_term(candidate)
        if term is not None:
            return Match(value_set.name, None, term, candidate)
    return None


def affirmed_term(value_set: ValueSet, text: str | None) -> str | None:
    """The first of the value set's text terms found in `text` and not negated just before it.

    A negation reaches only within its sentence: "No fracture. Calcification of the heel." affirms.
    """
    if not text:
        return None
    sentences = [normalise_text(s) for s in _SENTENCE_BREAK.split(text.lower()) if s.strip()]
    for term, padded in value_set.by_length:  # longest (most specific) first
        for sentence in sentences:
            start = sentence.find(padded)
            while start != -1:
                before = " " + " ".join(sentence[:start].split()[-NEGATION_WINDOW_WORDS:]) + " "
                after = " " + sentence[start + len(padded):] + " "  # the rest of its sentence
                if not any(cue in before for cue in _NEGATIONS) and not any(cue in after for cue in _NEGATIONS_AFTER):
                    return term
                start = sentence.find(padded, start + 1)
    return None


def statement_cue(text: str | None) -> str | None:
    """ "negated" or "historical" when a problem's own words open or close with a cue that takes it out of
    the present ("No evidence of osteomyelitis", "History of calcific tendinitis", "Cellulitis - resolved",
    "Osteomyelitis ruled out"); None otherwise. A cue in the middle is not read (it may be about something
    else: "Calcific tendinitis, history of trauma")."""
    if not text:
        return None
    normalised = normalise_text(text)
    if normalised.startswith(_NEGATED_OPENINGS) or normalised.endswith(_NEGATED_ENDINGS):
        return "negated"
    if normalised.startswith(_HISTORICAL_OPENINGS) or normalised.endswith(_HISTORICAL_ENDINGS):
        return "historical"
    return None


def side_in_text(*texts: str | None) -> str | None:
    """ "left" / "right" / "bilateral" from words in the texts; None when absent or not said."""
    left = right = False
    for text in texts:
        if not text:
            continue
        haystack = normalise_text(text)
        if any(word in haystack for word in _BOTH):
            return "bilateral"
        left = left or any(word in haystack for word in _LEFT)
        right = right or any(word in haystack for word in _RIGHT)
    if left and right:
        return "bilateral"
    return "left" if left else "right" if right else None


def label_of(*concept_list: Any, fallback: str = "") -> str:
    """Human words for a concept: its text, else the first display, else `fallback`."""
    texts = concept_texts(*concept_list)
    return texts[0] if texts else fallback
