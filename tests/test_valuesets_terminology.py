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


def test_every_value_set_code_is_in_terminology(verified: set[tuple[str, str]]) -> None:
    invented = [
        f"{value_set.name}: {member.system}|{member.code}"
        for value_set in load_valuesets().sets.values()
        for member in value_set.members
        if (SYSTEM_LABELS[member.system], member.code) not in verified
    ]
    assert invented == []


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
