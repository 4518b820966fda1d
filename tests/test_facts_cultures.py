"""Issue 16, class "cultures": a culture is positive only when it says an organism grew.

Rule: positive = a coded organism (valueCodeableConcept, a component's value, or a hasMember Observation),
an interpretation POS/DET/A/AA, or words naming a pathogen or growth; pending/in-progress/preliminary
results, "no growth" in any spelling (NG, NGTD, no growth at 48 h) and normal/mixed skin flora are not.
Seed 000: infection-related calcifications are treated "with antibiotics based on culture results".
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.facts.model import LabTest
from tests.support.facts_builders import LOINC, SNOMED, facts_for, observation

WOUND_CULTURE = (LOINC, "6462-6", "Bacteria identified in Wound by Culture")


def _culture(**kw: Any) -> Any:
    f = facts_for(observation("cx", WOUND_CULTURE, **kw))
    return f.labs.get(LabTest.CULTURE), f


@pytest.mark.parametrize(
    "text",
    ["Culture in progress", "Pending", "Preliminary report to follow", "NG", "NGTD", "No growth at 48 hours",
     "No growth to date", "Normal skin flora", "Mixed skin flora", "Heavy growth of normal skin flora",
     "Mixed flora, probable contaminant", "No Staphylococcus aureus isolated", "See report", "", "Negative"],
)
def test_words_that_are_not_growth_of_a_pathogen_are_not_positive(text: str) -> None:
    result, f = _culture(value_string=text or " ")
    assert result is None or result.positive is not True
    assert not any(i.kind == "positive-culture" for i in f.infections)


@pytest.mark.parametrize(
    "text",
    ["Staphylococcus aureus", "Heavy growth of MRSA", "Pseudomonas aeruginosa isolated",
     "Coagulase-negative staphylococcus", "Mixed growth including S. aureus", "Gram negative rods",
     "Moderate growth of Escherichia coli; no anaerobes"],
)
def test_words_naming_a_pathogen_are_positive(text: str) -> None:
    result, f = _culture(value_string=text)
    assert result is not None and result.positive is True
    assert any(i.kind == "positive-culture" for i in f.infections)


def test_coded_organism_without_a_display_is_positive_and_an_unknown_code_is_not() -> None:
    result, _ = _culture(value_concept={"coding": [{"system": SNOMED, "code": "3092008"}]})
    assert result.positive is True
    result, _ = _culture(value_concept={"coding": [{"system": SNOMED, "code": "9999999"}]})
    assert result.positive is None


@pytest.mark.parametrize("code,positive", [("POS", True), ("DET", True), ("A", True), ("NEG", False), ("ND", False)])
def test_interpretation_decides(code: str, positive: bool) -> None:
    result, _ = _culture(interpretation=code, value_string="see report")
    assert result.positive is positive and result.decided_by == "interpretation"


def test_preliminary_culture_is_not_positive_even_when_it_names_an_organism() -> None:
    result, f = _culture(status="preliminary", value_string="Staphylococcus aureus")
    assert result.positive is None
    assert not any(i.kind == "positive-culture" for i in f.infections)


def test_registered_culture_is_no_result() -> None:
    result, _ = _culture(status="registered", value_string="Staphylococcus aureus")
    assert result is None


def test_component_organism_is_positive() -> None:
    obs = observation("cx", WOUND_CULTURE)
    organism = {"coding": [{"system": SNOMED, "code": "3092008"}]}
    obs["component"] = [{"code": {"text": "Organism"}, "valueCodeableConcept": organism}]
    f = facts_for(obs)
    assert f.labs[LabTest.CULTURE].positive is True


def test_has_member_organism_is_positive_and_a_pending_member_is_not() -> None:
    panel = observation("cx", WOUND_CULTURE)
    panel["hasMember"] = [{"reference": "Observation/org1"}]
    member = observation("org1", WOUND_CULTURE, value_concept={"coding": [{"system": SNOMED, "code": "112283007"}]})
    f = facts_for(panel, member)
    assert f.labs[LabTest.CULTURE].positive is True
    member["status"] = "preliminary"
    f = facts_for(panel, member)
    assert f.labs[LabTest.CULTURE].positive is not True
