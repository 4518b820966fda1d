"""The pathway's value sets and orderables, read once from `valuesets.toml` (the one place codes live).

A value set recognises a concept by its codings first and, only when no coding matches, by whole-word,
case-insensitive text terms. Orderables are the codings the service suggests in cards.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "VALUESETS_PATH",
    "Member",
    "Orderable",
    "ValueSet",
    "ValueSets",
    "category_tokens",
    "dotted_icd10",
    "load_valuesets",
    "normalise_text",
    "normalising_once",
    "orderable",
    "prefetch_codings",
    "system_uri",
]

VALUESETS_PATH = Path(__file__).with_name("valuesets.toml")
PREFETCH_TYPES = ("Condition", "Observation", "DiagnosticReport", "ServiceRequest", "Procedure")
SIDES = ("right", "left", "bilateral", "unspecified")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_text(text: str) -> str:
    """Lower case, every run of non-alphanumerics one space, padded: `" rice grain "` for "Rice-grain".

    Whole-word matching is then a substring test of a padded, normalised term. Inside `normalising_once()`
    each distinct text is normalised once (the facts step tests one text against dozens of value sets).
    """
    memo = _NORMALISED.get()
    if memo is None:
        return f" {_NON_WORD.sub(' ', text.lower()).strip()} "
    found = memo.get(text)
    if found is None:
        found = memo[text] = f" {_NON_WORD.sub(' ', text.lower()).strip()} "
    return found


# Texts normalised so far in the current `normalising_once()` block (None outside one).
_NORMALISED: ContextVar[dict[str, str] | None] = ContextVar("normalised_texts", default=None)


@contextmanager
def normalising_once() -> Iterator[None]:
    """Within the block, `normalise_text` remembers what it normalised. Scoped to one step of one call, so
    memory is bounded by that call's texts and nothing carries over from one patient to the next."""
    token = _NORMALISED.set({})
    try:
        yield
    finally:
        _NORMALISED.reset(token)


@dataclass(frozen=True, slots=True)
class Member:
    """One code of a value set."""

    system: str  # full URI
    code: str
    display: str
    source: str  # terminology.md source short name
    family: str | None = None  # e.g. "M61.47x" for ICD-10-CM families
    concept: str | None = None
    side: str | None = None  # "right" | "left" | "bilateral" | None (unspecified or not lateral)
    site: str | None = None  # "foot" when the code itself names the foot/ankle/heel/toe
    # True for an ICD-10 code family matched by its leading characters ("E11" is every code starting
    # "E11"): a rule means the whole family, and listing sample codes of it misses the rest.
    prefix: bool = False


@dataclass(frozen=True)
class ValueSet:
    name: str
    title: str
    members: tuple[Member, ...] = ()
    text_terms: tuple[str, ...] = ()
    # Words that cancel a text match in the same text ("ionized" calcium is not total calcium).
    exclude_terms: tuple[str, ...] = ()
    site: str | None = None  # "foot" when every code names the site
    lab_test: str | None = None
    codings: frozenset[tuple[str, str]] = field(init=False)
    codes: frozenset[str] = field(init=False, repr=False)  # the codes alone, whatever their system
    _by_coding: dict[tuple[str, str], Member] = field(init=False, repr=False)
    _terms: tuple[tuple[str, str], ...] = field(init=False, repr=False)  # (padded normalised, original)
    # (original, padded normalised), longest original first: the order report text is read in.
    by_length: tuple[tuple[str, str], ...] = field(init=False, repr=False)
    _excluded: tuple[str, ...] = field(init=False, repr=False)  # exclude_terms, padded and normalised

    _by_prefix: dict[tuple[str, str], Member] = field(init=False, repr=False)
    _prefix_lengths: tuple[int, ...] = field(init=False, repr=False)  # longest first

    def __post_init__(self) -> None:
        by_coding = {(m.system, m.code): m for m in self.members if not m.prefix}
        object.__setattr__(self, "_by_coding", by_coding)
        # Exact codings only: prefetch queries and the lab code table need whole codes, not families.
        object.__setattr__(self, "codings", frozenset(by_coding))
        object.__setattr__(self, "codes", frozenset(code for _, code in by_coding))
        by_prefix = {(m.system, m.code): m for m in self.members if m.prefix}
        object.__setattr__(self, "_by_prefix", by_prefix)
        object.__setattr__(self, "_prefix_lengths", tuple(sorted({len(c) for _, c in by_prefix}, reverse=True)))
        # Longest term first, so "calcific tendinitis" is reported rather than "calcific".
        terms = sorted(((normalise_text(t), t) for t in self.text_terms), key=lambda pair: -len(pair[0]))
        object.__setattr__(self, "_terms", tuple(terms))
        by_length = sorted(self.text_terms, key=len, reverse=True)
        object.__setattr__(self, "by_length", tuple((t, normalise_text(t)) for t in by_length))
        object.__setattr__(self, "_excluded", tuple(normalise_text(word) for word in self.exclude_terms))

    @property
    def sources(self) -> tuple[str, ...]:
        """The terminology.md source short names of the codes, in file order ("text only" when none)."""
        names = tuple(dict.fromkeys(m.source for m in self.members))
        return names or ("text only",)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.family for m in self.members if m.family))

    def member(self, codings: Iterable[tuple[str | None, str | None]]) -> Member | None:
        """The first member among `codings` ((system, code) pairs), or None."""
        for system, code in codings:
            if system and code:
                found = self._by_coding.get((system, code))
                if found is None and self._prefix_lengths:
                    found = self._prefix_member(system, code)
                if found is not None:
                    return found
        return None

    def _prefix_member(self, system: str, code: str) -> Member | None:
        """The most specific code family `code` belongs to (ICD-10 codes read dotted: "E119" is E11.9)."""
        dotted = dotted_icd10(code)
        for length in self._prefix_lengths:
            found = self._by_prefix.get((system, dotted[:length]))
            if found is not None:
                return found
        return None

    def matches_codings(self, codings: Iterable[tuple[str | None, str | None]]) -> bool:
        return self.member(codings) is not None

    def matched_term(self, text: str | None, *, normalised: bool = False) -> str | None:
        """The first text term found in `text` as whole words (case-insensitive), or None."""
        if not text or not self._terms:
            return None
        haystack = text if normalised else normalise_text(text)
        for padded, term in self._terms:
            if padded in haystack:
                if any(word in haystack for word in self._excluded):
                    return None
                return term
        return None

    def matches_text(self, text: str | None) -> bool:
        return self.matched_term(text) is not None


@dataclass(frozen=True, slots=True)
class Orderable:
    """A coding the service suggests (ServiceRequest.code). `system`/`code` are None for text-only concepts."""

    name: str
    kind: str  # imaging | laboratory | referral | procedure | follow-up
    system: str | None
    code: str | None
    display: str
    text: str
    lab_test: str | None = None

    def codeable_concept(self) -> dict[str, Any]:
        """FHIR CodeableConcept JSON; text only when no code exists (never an invented code)."""
        concept: dict[str, Any] = {"text": self.text}
        if self.system and self.code:
            concept["coding"] = [{"system": self.system, "code": self.code, "display": self.display}]
        return concept


@dataclass(frozen=True)
class ValueSets:
    systems: dict[str, str]
    sources: dict[str, str]
    sets: dict[str, ValueSet]
    orderables: dict[str, Orderable]
    prefetch: dict[str, tuple[str, ...]]
    # Search categories ([category.*]): structural HL7 codes, read with `in_category`.
    categories: dict[str, ValueSet] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ValueSet:
        try:
            return self.sets[name]
        except KeyError:
            raise KeyError(f"no value set named {name!r} in {VALUESETS_PATH.name}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.sets

    def in_category(self, name: str, codings: Iterable[tuple[str | None, str | None]]) -> bool:
        """Whether a (system, code) pair is one of category `name`'s codes; a coding without a system counts
        by its code (a search by code alone, as prefetch does, finds it too)."""
        category = self.categories[name]
        codes = category.codes
        return any(
            code in codes and (system is None or (system, code) in category.codings) for system, code in codings
        )

    def for_lab_test(self, lab_test: str) -> ValueSet:
        for value_set in self.sets.values():
            if value_set.lab_test == lab_test:
                return value_set
        raise KeyError(f"no value set for lab test {lab_test!r} in {VALUESETS_PATH.name}")


def _system(systems: dict[str, str], alias: str, where: str) -> str:
    try:
        return systems[alias]
    except KeyError:
        raise ValueError(f"{where}: unknown system alias {alias!r}; [systems] declares {sorted(systems)}") from None


def _members(name: str, body: dict[str, Any], systems: dict[str, str], sources: dict[str, str]) -> list[Member]:
    site = body.get("site")
    members: list[Member] = []

    def check_source(source: str, where: str) -> None:
        if source not in sources:
            raise ValueError(f"{where}: source {source!r} is not declared in [sources]")

    for entry in body.get("codes", []):
        where = f"valueset {name!r} code {entry.get('code')!r}"
        check_source(entry["source"], where)
        side = entry.get("side")
        if side is not None and side not in SIDES:
            raise ValueError(f"{where}: side must be one of {SIDES}, got {side!r}")
        members.append(
            Member(
                system=_system(systems, entry["system"], where),
                code=entry["code"],
                display=entry["display"],
                source=entry["source"],
                concept=entry.get("concept"),
                side=side,
                site=entry.get("site", site),
            )
        )
    for family in body.get("families", []):
        where = f"valueset {name!r} family {family.get('family')!r}"
        check_source(family["source"], where)
        system = _system(systems, family["system"], where)
        match = family.get("match", "code")
        if match not in ("code", "prefix"):
            raise ValueError(f"{where}: match must be 'code' or 'prefix', got {match!r}")
        for side in SIDES:
            for code in family.get(side, []):
                members.append(
                    Member(
                        system=system,
                        code=code,
                        display=family["display"],
                        source=family["source"],
                        family=family["family"],
                        concept=family.get("concept"),
                        side=None if side == "unspecified" else side,
                        site=family.get("site", site),
                        prefix=match == "prefix",
                    )
                )
    return members


_ICD10_UNDOTTED = re.compile(r"^[A-Z]\d[0-9A-Z]{2,5}$")


def dotted_icd10(code: str) -> str:
    """An ICD-10 code in its dotted form, upper case: "e119" and "E11.9" are both "E11.9"."""
    code = code.strip().upper()
    if "." not in code and _ICD10_UNDOTTED.match(code):
        return f"{code[:3]}.{code[3:]}"
    return code


def parse_valuesets(document: dict[str, Any]) -> ValueSets:
    systems: dict[str, str] = dict(document["systems"])
    sources: dict[str, str] = dict(document["sources"])
    sets: dict[str, ValueSet] = {}
    for name, body in document.get("valueset", {}).items():
        sets[name] = ValueSet(
            name=name,
            title=body["title"],
            members=tuple(_members(name, body, systems, sources)),
            text_terms=tuple(body.get("text", ())),
            exclude_terms=tuple(body.get("exclude", ())),
            site=body.get("site"),
            lab_test=body.get("lab_test"),
        )
    orderables: dict[str, Orderable] = {}
    for name, body in document.get("orderable", {}).items():
        alias = body.get("system")
        orderables[name] = Orderable(
            name=name,
            kind=body["kind"],
            system=_system(systems, alias, f"orderable {name!r}") if alias else None,
            code=body.get("code"),
            display=body["display"],
            text=body["text"],
            lab_test=body.get("lab_test"),
        )
    categories = {
        name: ValueSet(name=name, title=body["title"], members=tuple(_members(name, body, systems, sources)))
        for name, body in document.get("category", {}).items()
    }
    prefetch: dict[str, tuple[str, ...]] = {}
    for resource_type, names in document.get("prefetch", {}).items():
        unknown = [n for n in names if n not in sets]
        if unknown:
            raise ValueError(f"[prefetch] {resource_type}: unknown value set(s) {unknown}")
        prefetch[resource_type] = tuple(names)
    return ValueSets(
        systems=systems, sources=sources, sets=sets, orderables=orderables, prefetch=prefetch, categories=categories
    )


@lru_cache(maxsize=1)
def load_valuesets() -> ValueSets:
    with VALUESETS_PATH.open("rb") as handle:
        return parse_valuesets(tomllib.load(handle))


def system_uri(alias: str) -> str:
    """`system_uri("snomed")` -> "http://snomed.info/sct"."""
    return _system(load_valuesets().systems, alias, "system_uri")


def orderable(name: str) -> Orderable:
    orderables = load_valuesets().orderables
    try:
        return orderables[name]
    except KeyError:
        raise KeyError(f"no orderable named {name!r}; {VALUESETS_PATH.name} declares {sorted(orderables)}") from None


def category_tokens(name: str) -> str:
    """Category `name`'s codes as one search value, by code alone: `laboratory` or `RAD,RX,CT,...`."""
    categories = load_valuesets().categories
    if name not in categories:
        raise KeyError(f"no category named {name!r}; {VALUESETS_PATH.name} declares {sorted(categories)}")
    return ",".join(dict.fromkeys(member.code for member in categories[name].members))


def prefetch_codings(resource_type: str) -> list[tuple[str, str]]:
    """(system, code) pairs a code-filtered prefetch query for `resource_type` asks for, in file order."""
    valuesets = load_valuesets()
    if resource_type not in valuesets.prefetch:
        raise KeyError(
            f"no prefetch value sets for {resource_type!r}; [prefetch] declares {sorted(valuesets.prefetch)}"
        )
    seen: dict[tuple[str, str], None] = {}
    for name in valuesets.prefetch[resource_type]:
        for member in valuesets[name].members:
            if not member.prefix:  # a search token is a whole code; a family is read on arrival
                seen.setdefault((member.system, member.code), None)
    return list(seen)
