"""No fact broader than the record (issue 7, "Meaning"): wider regions, another site, negated and past
problems, comparators and value strings, absent results, local lab names, dry versus wet gangrene, laterality
conflicts, names from the value set, time zones, the deceased."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cds_service.facts.extract import build_facts
from cds_service.facts.model import LabTest, Side
from cds_service.facts.parse import to_clinical_data
from cds_service.guideline.config import load_pathway_config
from tests.support.facts_builders import (
    ICD10CM,
    LOINC,
    PATIENT_ID,
    SNOMED,
    TODAY,
    condition,
    days_ago,
    facts_for,
    observation,
    raw_record,
)

ENTRY = condition("entry", (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"))
FOOT = (SNOMED, "56459004", "Foot structure")
EGFR = (LOINC, "98979-8")
CRP = (LOINC, "1988-5")
CALCIUM = (LOINC, "17861-6")
LOCAL = "http://hospital.example.org/lab"


# --- regions wider than the foot, and another site -------------------------------------------------------


def test_lower_limb_cellulitis_needs_foot_evidence() -> None:
    assert facts_for(ENTRY, condition("c", (ICD10CM, "L03.116", "Cellulitis of left lower limb"))).infections == ()
    with_site = facts_for(ENTRY, condition("c", (ICD10CM, "L03.116"), body_site=FOOT))
    assert [i.kind for i in with_site.infections] == ["cellulitis"]
    with_words = facts_for(ENTRY, condition("c", (ICD10CM, "L03.116"), text="Cellulitis of the left foot"))
    assert [i.kind for i in with_words.infections] == ["cellulitis"]
    # a lower leg bodySite is wider than the foot: still no foot evidence
    assert facts_for(ENTRY, condition("c", (ICD10CM, "L03.116"), body_site_text="Left lower leg")).infections == ()


def test_a_body_site_elsewhere_is_not_the_foot_whatever_the_code() -> None:
    assert not facts_for(condition("c", (ICD10CM, "M65.271"), body_site_text="Thigh structure")).in_pathway
    assert not facts_for(condition("c", (SNOMED, "18115005"), body_site_text="Right hand")).in_pathway
    # no site given differs from another site: the foot code stands
    assert facts_for(condition("c", (ICD10CM, "M65.271"), body_site_text="Skin of right lower leg")).in_pathway
    assert facts_for(condition("c", (SNOMED, "18115005"), body_site_text="Right heel")).in_pathway
    assert facts_for(ENTRY, condition("o", (SNOMED, "60168000"), body_site_text="Left knee")).osteomyelitis is None


# --- negated and past problems -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["History of calcific tendinitis, right foot", "No evidence of calcification of the right heel",
     "Calcific tendinitis of the right foot - resolved", "Heel calcification ruled out", "s/p calcinosis of toe"],
)
def test_negated_or_past_text_is_not_a_current_problem(text: str) -> None:
    assert not facts_for(condition("c", text=text)).in_pathway


def test_a_past_injury_still_explains_a_dystrophic_calcification_a_negated_one_does_not() -> None:
    assert [e.reference for e in facts_for(ENTRY, condition("t", text="H/O crush injury of foot")).dystrophic_causes
            if e.reference == "Condition/t"] == ["Condition/t"]
    negated = facts_for(ENTRY, condition("t", text="No foot trauma"))
    assert all(e.reference != "Condition/t" for e in negated.dystrophic_causes)


def test_negated_infection_is_no_infection() -> None:
    facts = facts_for(
        ENTRY,
        condition("o", text="No evidence of osteomyelitis of the left foot"),
        condition("c", (SNOMED, "128276007", "Cellulitis of foot"), text="Cellulitis of right foot, resolved"),
    )
    assert facts.osteomyelitis is None and facts.infections == ()


# --- values: comparators, strings, absent results, local names ------------------------------------------


def _lab(test: LabTest, *resources: dict) -> object:
    return facts_for(ENTRY, *resources).labs.get(test)


@pytest.mark.parametrize(
    ("value", "abnormal", "below_60"),
    [(">60", False, False), ("<15", True, True), (">45", None, None), ("> 90 mL/min/1.73m2", False, False),
     ("52", True, True), ("see comment", None, None)],
)
def test_egfr_as_a_string_with_comparators(value: str, abnormal: bool | None, below_60: bool | None) -> None:
    result = _lab(LabTest.EGFR, observation("e", EGFR, value_string=value, category="laboratory"))
    assert result.abnormal is abnormal
    assert result.below(60.0) is below_60


def test_comparators_on_quantities_and_strings() -> None:
    crp = _lab(LabTest.CRP, observation("c", CRP, value_string="< 5 mg/L", effective=days_ago(2)))
    assert (crp.abnormal, crp.value, crp.comparator) == (False, 5.0, "<")
    assert crp.describe().startswith("CRP <5.0 mg/L") and crp.describe().endswith(", normal")
    # without a unit a CRP is ambiguous (mg/L or mg/dL): unknown, not normal
    assert _lab(LabTest.CRP, observation("c", CRP, value_string="< 5")).abnormal is None
    quantity = observation("e", EGFR, value=(60, "mL/min/{1.73_m2}"))
    quantity["valueQuantity"]["comparator"] = ">"
    assert _lab(LabTest.EGFR, quantity).abnormal is False
    low = _lab(LabTest.CALCIUM, observation("ca", CALCIUM, value_string="<2.0 mmol/L"))
    assert (low.abnormal, low.direction) == (True, "low")


def test_a_result_not_performed_is_no_result_and_hides_no_older_one() -> None:
    older = observation("ca-old", CALCIUM, value=(9.4, "mg/dL"), effective=days_ago(20))
    absent = observation("ca-new", CALCIUM, effective=days_ago(1))
    absent["dataAbsentReason"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                              "code": "not-performed"}]}
    assert _lab(LabTest.CALCIUM, older, absent).reference == "Observation/ca-old"
    assert _lab(LabTest.CALCIUM, absent) is None


@pytest.mark.parametrize(
    ("display", "test"),
    [("PTH intact", LabTest.PTH), ("PTH-related peptide", None), ("Calcium, ionized", None),
     ("Calcium, serum", LabTest.CALCIUM), ("Creatinine, urine", None), ("Creatinine", LabTest.CREATININE),
     ("EGFR mutation analysis", None), ("eGFR (CKD-EPI)", LabTest.EGFR)],
)
def test_the_ehr_s_own_lab_codes_are_read_by_their_words(display: str, test: LabTest | None) -> None:
    local = observation("l", (LOCAL, "X1", display), value=(1.0, "x"), category="laboratory")
    assert set(facts_for(ENTRY, local).labs) == ({test} if test else set())


def test_latest_result_across_time_zones() -> None:
    late_in_hawaii = observation("a", CALCIUM, value=(11.4, "mg/dL"), effective="2026-11-20T23:30:00-10:00")
    early_in_europe = observation("b", CALCIUM, value=(9.4, "mg/dL"), effective="2026-11-21T05:00:00+02:00")
    # 2026-11-21T09:30Z is after 2026-11-21T03:00Z
    assert _lab(LabTest.CALCIUM, late_in_hawaii, early_in_europe).reference == "Observation/a"


# --- dry and wet gangrene ---------------------------------------------------------------------------------


def test_only_a_dry_eschar_or_dry_gangrene_is_an_eschar() -> None:
    dry = facts_for(ENTRY, condition("e", (SNOMED, "421306004", "Necrotic eschar"), body_site_text="Right heel"))
    assert dry.eschar is not None and dry.wet_gangrene is None
    stated_dry = facts_for(ENTRY, condition("g", text="Dry gangrene of the second toe"))
    assert stated_dry.eschar is not None
    unknown = facts_for(ENTRY, condition("g", (SNOMED, "195303005", "Gangrene of foot")))
    assert unknown.eschar is None and unknown.wet_gangrene is None  # wet or dry not said: neither
    wet = facts_for(ENTRY, condition("g", (SNOMED, "195303005", "Gangrene of foot"), text="Wet gangrene, left hallux"))
    assert wet.eschar is None and wet.wet_gangrene is not None
    assert [i.kind for i in wet.infections] == ["wet-gangrene"]  # an infected wound is a foot infection
    infected = facts_for(ENTRY, condition("e", (SNOMED, "421306004"), text="Infected eschar of the left heel"))
    assert infected.eschar is None and infected.wet_gangrene is not None


# --- sides, names, the deceased ----------------------------------------------------------------------------


def test_a_laterality_conflict_gives_no_side() -> None:
    (problem,) = facts_for(condition("c", (ICD10CM, "M65.271"), body_site_text="Left foot")).problems
    assert problem.side is None
    (agreed,) = facts_for(condition("c", (ICD10CM, "M65.271"), body_site_text="Right foot")).problems
    assert agreed.side is Side.RIGHT


def test_a_coding_without_display_is_named_from_the_value_set() -> None:
    facts = facts_for(condition("c", (ICD10CM, "M65.271")), condition("dm", (SNOMED, "44054006")))
    assert facts.problems[0].label == "Calcific tendinitis, ankle and foot"
    assert facts.diabetes.label == "Diabetes mellitus type 2"


@pytest.mark.parametrize(
    ("patient", "deceased"),
    [({"deceasedBoolean": True}, True), ({"deceasedDateTime": "2026-11-01T10:00:00Z"}, True),
     ({"deceasedDateTime": "2027-01-01"}, False), ({"deceasedBoolean": False}, False), ({}, False)],
)
def test_the_deceased(patient: dict, deceased: bool) -> None:
    record = raw_record(ENTRY)
    record.patient = {"resourceType": "Patient", "id": PATIENT_ID, **patient}
    data = to_clinical_data(record, PATIENT_ID)
    facts = build_facts(data, hook="patient-view", today=TODAY, config=load_pathway_config())
    assert (facts.deceased is not None) is deceased


def test_the_imaging_history_window_is_configurable() -> None:
    from tests.support.facts_builders import diagnostic_report

    old = diagnostic_report("d", (LOINC, "36305-1", "XR Foot 3 Views"), effective=days_ago(400),
                            conclusion="Soft tissue calcification of the heel.")
    assert facts_for(old).in_pathway
    short = replace(load_pathway_config(), imaging_history_days=365)
    assert not facts_for(old, config=short).in_pathway
