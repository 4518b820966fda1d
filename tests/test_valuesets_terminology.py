"""Every code the pathway recognises or suggests is one that reference/terminology.md verified."""

from __future__ import annotations

import pytest

from cds_service.guideline.valuesets import load_valuesets
from tests.support.facts_terminology import SHARED_TERMINOLOGY, SYSTEM_LABELS, verified_codes

pytestmark = pytest.mark.skipif(
    not SHARED_TERMINOLOGY.exists(), reason="../shared/reference/terminology.md is not beside the checkout"
)


@pytest.fixture(scope="module")
def verified() -> set[tuple[str, str]]:
    return verified_codes()


# Codes verified outside terminology.md, each against a public source named in valuesets.toml [sources]
# (the brief allows "another public source you verified yourself"). Listed here so that adding one is a
# visible decision, never a silent pass.
VERIFIED_ELSEWHERE = {("http://www.ama-assn.org/go/cpt", "73701"): "CPT-WEB-7", ("http://www.ama-assn.org/go/cpt", "73702"): "CPT-WEB-7"}
# Issue 16: whole public value sets and code families read for the rules that mean them (diabetes, foot
# ulcer, osteomyelitis of the foot, body sites...). Each source names the file (and commit) or the pages the
# codes were read from; a code of another source still has to be in terminology.md.
VERIFIED_ELSEWHERE_SOURCES = frozenset({"VSAC24-EXP", "EHDSI-BODYSITE", "EHDSI-MICRO", "SNOMED-WEB-16", "ICD-WEB-16"})


def test_every_value_set_code_is_in_terminology(verified: set[tuple[str, str]]) -> None:
    invented = [
        f"{value_set.name}: {member.system}|{member.code}"
        for value_set in load_valuesets().sets.values()
        for member in value_set.members
        if (SYSTEM_LABELS[member.system], member.code) not in verified
        and VERIFIED_ELSEWHERE.get((member.system, member.code)) != member.source
        and member.source not in VERIFIED_ELSEWHERE_SOURCES
    ]
    assert invented == []


def test_sources_verified_elsewhere_name_where_they_were_read() -> None:
    sources = load_valuesets().sources
    for name in VERIFIED_ELSEWHERE_SOURCES:
        where = sources[name]
        assert "issue 16" in where and ("@" in where or "pages" in where or "tables" in where), name


def test_prefix_families_are_only_icd10_stems() -> None:
    # A prefix family is a stem of an ICD-10 code ("E11", "L97.41"), never a SNOMED or LOINC number.
    for value_set in load_valuesets().sets.values():
        for member in value_set.members:
            if member.prefix:
                assert member.system.endswith(("icd-10-cm", "icd-10")), (value_set.name, member.code)
                assert member.code[0].isalpha() and member.code[1].isdigit(), (value_set.name, member.code)


def test_codes_verified_elsewhere_are_not_in_terminology_and_name_their_source(verified: set[tuple[str, str]]) -> None:
    sources = load_valuesets().sources
    for (system, code), source in VERIFIED_ELSEWHERE.items():
        assert (SYSTEM_LABELS[system], code) not in verified, f"{code} is in terminology.md now: use its source"
        assert code in sources[source]


def test_every_orderable_code_is_in_terminology(verified: set[tuple[str, str]]) -> None:
    invented = [
        f"{o.name}: {o.system}|{o.code}"
        for o in load_valuesets().orderables.values()
        if o.code is not None and (SYSTEM_LABELS[o.system or ""], o.code) not in verified
    ]
    assert invented == []


def test_codes_marked_not_verified_are_not_read_as_verified(verified: set[tuple[str, str]]) -> None:
    # terminology.md names these only in NOT VERIFIED rows: the parser must not pick them up.
    assert ("SNOMED", "82650004") not in verified
    assert ("SNOMED", "128491006") not in verified
    # ...while shorthand rows are expanded
    assert ("ICD-10-CM", "M61.175") in verified
    assert ("ICD-10-CM", "M86.179") in verified
