"""Issue 16, class "codes without a display": a value set means a code family, not sample codes.

Rule: the rules' concepts (diabetes, foot ulcer, osteomyelitis of the foot, cellulitis, PAD) are recognised
by code family (ICD-10-CM categories read dotted or undotted; the VSAC Diabetes SNOMED set), text only as a
fallback. Seed 000: "Osteomyelitis should be ruled out in patients with diabetic foot ulcers" (the
osteomyelitis rule-out and the DFI reassessment need diabetes recognised whatever its code's display).
"""

from __future__ import annotations

import pytest

from tests.support.facts_builders import ICD10CM, SNOMED, condition, days_ago, facts_for

FOOT = (SNOMED, "56459004")


@pytest.mark.parametrize(
    "code",
    ["E11.9", "E11.65", "E119", "e11.65", "E10.10", "E10.9", "E13.9", "E08.621", "E09.9", "E11.621", "E11.42"],
)
def test_icd10cm_diabetes_by_family_without_a_display(code: str) -> None:
    f = facts_for(condition("dm", (ICD10CM, code)))
    assert f.diabetes is not None and f.diabetes.reference == "Condition/dm"
    assert f.diabetes.label != "Condition"  # named from the family, not left blank


@pytest.mark.parametrize("code", ["E66.9", "E16.2", "R73.09", "Z83.3", "E1"])
def test_codes_outside_the_diabetes_families_are_not_diabetes(code: str) -> None:
    assert facts_for(condition("x", (ICD10CM, code))).diabetes is None


@pytest.mark.parametrize("code", ["313436004", "44054006", "46635009", "190389009", "1481000119100"])
def test_snomed_diabetes_of_the_vsac_set_without_a_display(code: str) -> None:
    assert facts_for(condition("dm", (SNOMED, code))).diabetes is not None


def test_another_system_with_a_diabetes_like_code_is_not_diabetes() -> None:
    assert facts_for(condition("x", ("http://example.org/local", "E11.9"))).diabetes is None


@pytest.mark.parametrize("code", ["L97.412", "L97.521", "L97.509", "L97.40", "E13.621"])
def test_foot_ulcer_families(code: str) -> None:
    assert facts_for(condition("u", (ICD10CM, code))).foot_ulcer is not None


@pytest.mark.parametrize("code", ["L97.909", "L97.919"])  # L97.9: unspecified part of lower leg
def test_ulcers_of_other_sites_are_not_foot_ulcers(code: str) -> None:
    assert facts_for(condition("u", (ICD10CM, code))).foot_ulcer is None


@pytest.mark.parametrize("code", ["M86.671", "M86.272", "M86.379", "M86.471", "M86.572", "M86.8X7", "M86.071"])
def test_osteomyelitis_of_the_foot_families(code: str) -> None:
    f = facts_for(condition("o", (ICD10CM, code)))
    assert f.osteomyelitis is not None
    assert [i.kind for i in f.infections] == ["osteomyelitis"]


def test_unsited_osteomyelitis_needs_a_foot_site() -> None:
    assert facts_for(condition("o", (ICD10CM, "M86.9"))).osteomyelitis is None
    assert facts_for(condition("o", (ICD10CM, "M86.9"), body_site=FOOT)).osteomyelitis is not None
    # M86.66x is the lower leg, not the foot
    assert facts_for(condition("o", (ICD10CM, "M86.661"))).osteomyelitis is None


def test_cellulitis_and_lymphangitis_of_toe_and_lower_limb() -> None:
    assert [i.kind for i in facts_for(condition("c", (ICD10CM, "L03.041"))).infections] == ["cellulitis"]
    # lower limb: needs foot evidence
    assert facts_for(condition("c", (ICD10CM, "L03.125"))).infections == ()
    assert [i.kind for i in facts_for(condition("c", (ICD10CM, "L03.125"), body_site=FOOT)).infections] == [
        "cellulitis"
    ]


def test_pad_of_the_legs_by_code() -> None:
    assert facts_for(condition("p", (ICD10CM, "I70.233"))).ischemia is not None
    assert facts_for(condition("p", (ICD10CM, "I70.203"))).ischemia is not None


def test_diabetic_patient_with_coded_only_osteomyelitis_has_a_diabetic_foot_infection() -> None:
    f = facts_for(condition("dm", (ICD10CM, "E11.9")), condition("o", (ICD10CM, "M86.672"), onset=days_ago(3)))
    assert f.diabetic_foot_infection is not None


def test_text_stays_a_fallback_for_a_code_we_do_not_list() -> None:
    f = facts_for(condition("dm", ("http://example.org/local", "DM2"), text="Type 2 diabetes"))
    assert f.diabetes is not None


def test_a_coded_only_ankle_or_foot_injury_is_a_dystrophic_cause_and_a_knee_injury_is_not() -> None:
    assert facts_for(condition("t", (ICD10CM, "S93.04XA"))).dystrophic_causes != ()
    assert facts_for(condition("t", (ICD10CM, "S83.004A"))).dystrophic_causes == ()
