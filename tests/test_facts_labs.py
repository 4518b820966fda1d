"""Lab facts: latest counting result per test, units normalised, abnormal decided in the spec's order."""

from __future__ import annotations

import pytest

from cds_service.facts.model import LabTest
from tests.support.facts_builders import LOINC, days_ago, facts_for, observation

CALCIUM = (LOINC, "17861-6", "Calcium [Mass/volume] in Serum or Plasma")
CALCIUM_MOLAR = (LOINC, "2000-8", "Calcium [Moles/volume] in Serum or Plasma")


def lab(test: LabTest, *resources: dict) -> object:
    return facts_for(*resources).labs.get(test)


def test_calcium_in_mmol_is_converted_and_high_by_default_range() -> None:
    result = lab(LabTest.CALCIUM, observation("o1", CALCIUM_MOLAR, value=(2.9, "mmol/L")))
    assert result.value == pytest.approx(11.62, abs=0.01)
    assert result.unit == "mg/dL"
    assert result.original == "2.9 mmol/L"
    assert (result.abnormal, result.direction, result.decided_by) == (True, "high", "default range")


@pytest.mark.parametrize(
    ("test", "code", "value", "unit", "canonical"),
    [
        (LabTest.PHOSPHATE, "14879-1", 1.0, "mmol/L", 3.097),
        (LabTest.PHOSPHATE, "2777-1", 3.1, "mg/dL", 3.1),
        (LabTest.PTH, "14866-8", 10.0, "pmol/L", 94.3),
        (LabTest.PTH, "2731-8", 40.0, "pg/mL", 40.0),
        (LabTest.CREATININE, "14682-9", 176.84, "umol/L", 2.0),
        (LabTest.CREATININE, "14682-9", 176.84, "µmol/L", 2.0),
        (LabTest.VITAMIN_D, "14635-7", 249.6, "nmol/L", 100.0),
        (LabTest.EGFR, "98979-8", 45.0, "mL/min/{1.73_m2}", 45.0),
        (LabTest.CRP, "1988-5", 2.0, "mg/dL", 20.0),
        (LabTest.ESR, "4537-7", 40.0, "mm/hr", 40.0),
    ],
)
def test_units_in_both_systems(test: LabTest, code: str, value: float, unit: str, canonical: float) -> None:
    result = lab(test, observation("o1", (LOINC, code), value=(value, unit), effective=days_ago(3)))
    assert result is not None
    assert result.value == pytest.approx(canonical, rel=1e-3)


def test_interpretation_wins_over_the_default_range() -> None:
    # 10.0 mg/dL is inside the default 8.5-10.5, but the lab flagged it high
    result = lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(10.0, "mg/dL"), interpretation="H"))
    assert (result.abnormal, result.direction, result.decided_by) == (True, "high", "interpretation")
    normal = lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(11.0, "mg/dL"), interpretation="N"))
    assert (normal.abnormal, normal.decided_by) == (False, "interpretation")


def test_reference_range_wins_over_the_default_range() -> None:
    result = lab(
        LabTest.CALCIUM, observation("o1", CALCIUM, value=(10.4, "mg/dL"), reference_range=(8.6, 10.2, "mg/dL"))
    )
    assert (result.abnormal, result.direction, result.decided_by) == (True, "high", "referenceRange")
    low = lab(
        LabTest.CALCIUM, observation("o1", CALCIUM_MOLAR, value=(2.0, "mmol/L"), reference_range=(2.1, 2.6, None))
    )
    assert (low.abnormal, low.direction, low.decided_by) == (True, "low", "referenceRange")


def test_reference_range_in_another_unit_is_converted() -> None:
    result = lab(
        LabTest.CALCIUM, observation("o1", CALCIUM_MOLAR, value=(2.5, "mmol/L"), reference_range=(8.5, 9.5, "mg/dL"))
    )
    assert (result.abnormal, result.direction, result.decided_by) == (True, "high", "referenceRange")


def test_unknown_unit_is_not_judged_by_default_range() -> None:
    result = lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(12.0, "furlongs")))
    assert result.value is None
    assert result.abnormal is None and result.decided_by is None


def test_egfr_below_60_is_low() -> None:
    result = lab(LabTest.EGFR, observation("o1", (LOINC, "98979-8"), value=(52, "mL/min/1.73m2")))
    assert (result.abnormal, result.direction) == (True, "low")
    assert lab(LabTest.EGFR, observation("o1", (LOINC, "98979-8"), value=(60, "mL/min/1.73m2"))).abnormal is False


def test_lookback_boundaries_are_inclusive() -> None:
    assert lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(9, "mg/dL"), effective=days_ago(90))) is not None
    assert lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(9, "mg/dL"), effective=days_ago(91))) is None
    assert lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(9, "mg/dL"), effective=days_ago(0))) is not None
    assert lab(LabTest.CALCIUM, observation("o1", CALCIUM, value=(9, "mg/dL"), effective=days_ago(-1))) is None
    # ESR, CRP and cultures look back 30 days
    assert lab(LabTest.ESR, observation("o1", (LOINC, "4537-7"), value=(9, "mm/h"), effective=days_ago(30))) is not None
    assert lab(LabTest.ESR, observation("o1", (LOINC, "4537-7"), value=(9, "mm/h"), effective=days_ago(31))) is None


def test_latest_counting_result_wins() -> None:
    result = lab(
        LabTest.CALCIUM,
        observation("old", CALCIUM, value=(12.0, "mg/dL"), effective=days_ago(20)),
        observation("new", CALCIUM, value=(9.0, "mg/dL"), effective=days_ago(5)),
        observation("cancelled", CALCIUM, value=(13.0, "mg/dL"), effective=days_ago(1), status="cancelled"),
        observation("error", CALCIUM, value=(13.0, "mg/dL"), effective=days_ago(1), status="entered-in-error"),
        observation("registered", CALCIUM, value=(13.0, "mg/dL"), effective=days_ago(1), status="registered"),
    )
    assert result.reference == "Observation/new"
    assert result.abnormal is False


def test_preliminary_counts() -> None:
    assert lab(LabTest.PTH, observation("o1", (LOINC, "2731-8"), value=(80, "pg/mL"), status="preliminary")).abnormal


def test_text_only_lab_and_ionized_calcium_is_not_total_calcium() -> None:
    assert lab(LabTest.CALCIUM, observation("o1", text="Serum calcium", value=(11.2, "mg/dL"), category="laboratory")).abnormal
    # Recognised by text only under the laboratory category (the search that brings the EHR's own codes)
    assert lab(LabTest.CALCIUM, observation("o1", text="Serum calcium", value=(11.2, "mg/dL"))) is None
    # 1995-0 (ionized) is a LOINC code the pathway does not list: no text fallback for it
    assert lab(LabTest.CALCIUM, observation("o1", (LOINC, "1995-0", "Calcium.ionized"), value=(1.4, "mmol/L"))) is None


@pytest.mark.parametrize(
    ("extra", "positive"),
    [
        ({"value_string": "Staphylococcus aureus, heavy growth"}, True),
        ({"value_string": "No growth after 48 hours"}, False),
        ({"interpretation": "POS"}, True),
        ({"interpretation": "NEG", "value_string": "Staphylococcus aureus"}, False),
        ({}, None),
    ],
)
def test_culture_positivity(extra: dict, positive: bool | None) -> None:
    facts = facts_for(observation("cx", (LOINC, "6462-6", "Bacteria identified in Wound by Culture"), **extra))
    assert facts.labs[LabTest.CULTURE].positive is positive
    assert any(i.kind == "positive-culture" for i in facts.infections) is bool(positive)


def test_describe() -> None:
    result = lab(LabTest.CALCIUM, observation("o1", CALCIUM_MOLAR, value=(2.9, "mmol/L"), effective="2026-11-01"))
    assert result.describe() == "Calcium 11.6 mg/dL (reported 2.9 mmol/L), high by default range"
