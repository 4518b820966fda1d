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


def test_every_value_set_code_is_in_terminology(verified: set[tuple[str, str]]) -> None:
    invented = [
        f"{value_set.name}: {member.system}|{member.code}"
        for value_set in load_valuesets().sets.values()
        for member in value_set.members
        if (SYSTEM_LABELS[member.system], member.code) not in verified
        and VERIFIED_ELSEWHERE.get((member.system, member.code)) != member.source
    ]
    assert invented == []


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
