"""Who is in the pathway (spec "Who is in the pathway"), with side, onset and the counting rules."""

from __future__ import annotations

import pytest

from cds_service.facts.model import Side
from tests.support.facts_builders import (
    ICD10CM,
    LOINC,
    SNOMED,
    condition,
    days_ago,
    diagnostic_report,
    facts_for,
    imaging_study,
    observation,
    service_request,
)

FOOT = (SNOMED, "56459004", "Foot structure")
HEEL = (SNOMED, "76853006", "Heel structure")
KNEE_TEXT = "Knee"


def test_icd10cm_code_that_carries_the_site() -> None:
    facts = facts_for(
        condition("c1", (ICD10CM, "M61.472", "Other calcification of muscle, left ankle and foot"), onset=days_ago(50))
    )
    assert facts.in_pathway
    (problem,) = facts.problems
    assert problem.reference == "Condition/c1"
    assert problem.kind == "calcification"
    assert problem.concept == "calcification-of-muscle"
    assert problem.side is Side.LEFT
    assert problem.onset.isoformat() == days_ago(50)
    assert problem.matched_by_text is False


@pytest.mark.parametrize(("code", "side"), [("M61.174", Side.RIGHT), ("M61.178", Side.LEFT), ("M65.279", None)])
def test_side_comes_from_the_declared_family_position(code: str, side: Side | None) -> None:
    (problem,) = facts_for(condition("c1", (ICD10CM, code))).problems
    assert problem.side is side


def test_snomed_concept_needs_a_foot_body_site() -> None:
    assert facts_for(condition("c1", (SNOMED, "18115005", "Pathologic calcification"), body_site=HEEL)).in_pathway
    assert not facts_for(condition("c1", (SNOMED, "18115005", "Pathologic calcification"))).in_pathway
    assert not facts_for(
        condition("c1", (SNOMED, "18115005", "Pathologic calcification"), body_site_text=KNEE_TEXT)
    ).in_pathway


def test_body_site_text_gives_the_side() -> None:
    (problem,) = facts_for(
        condition("c1", (SNOMED, "239838005", "Chondrocalcinosis"), body_site=FOOT, body_site_text="Right foot")
    ).problems
    assert problem.side is Side.RIGHT
    assert problem.body_site == "foot"


def test_soft_tissue_mass_rules() -> None:
    assert facts_for(condition("m1", (SNOMED, "442098006", "Mass of foot"))).problems[0].kind == "soft-tissue-mass"
    assert not facts_for(condition("m1", (SNOMED, "444905003", "Mass of soft tissue"))).in_pathway
    assert facts_for(condition("m1", (SNOMED, "444905003", "Mass of soft tissue"), body_site=FOOT)).in_pathway
    assert not facts_for(condition("m1", (ICD10CM, "R22.41"))).in_pathway
    (problem,) = facts_for(condition("m1", (ICD10CM, "R22.41"), body_site=FOOT)).problems
    assert problem.side is Side.RIGHT


@pytest.mark.parametrize(
    ("clinical", "verification", "counts"),
    [
        (None, None, True),
        ("active", "confirmed", True),
        ("recurrence", "provisional", True),
        ("relapse", None, True),
        ("resolved", None, False),
        ("inactive", None, False),
        ("remission", None, False),
        ("active", "refuted", False),
        ("active", "entered-in-error", False),
    ],
)
def test_condition_counting_rule(clinical: str | None, verification: str | None, counts: bool) -> None:
    facts = facts_for(condition("c1", (ICD10CM, "M65.271"), clinical=clinical, verification=verification))
    assert facts.in_pathway is counts


def test_verification_status_is_kept() -> None:
    (problem,) = facts_for(condition("c1", (ICD10CM, "M65.271"), verification="provisional")).problems
    assert problem.verification == "provisional"


def test_text_only_condition() -> None:
    (problem,) = facts_for(condition("c1", text="Calcific tendinitis of the left Achilles insertion")).problems
    assert problem.matched_by_text is True
    assert problem.concept == "calcific tendinitis"
    assert problem.side is Side.LEFT
    # whole words only: "decalcification" is not "calcification"
    assert not facts_for(condition("c2", text="Decalcification of the foot bones")).in_pathway


def test_imaging_report_text_enters() -> None:
    report = diagnostic_report(
        "d1",
        (LOINC, "36305-1", "XR Foot 3 Views"),
        conclusion="Amorphous soft tissue calcification adjacent to the right calcaneus. No fracture.",
    )
    (problem,) = facts_for(report).problems
    assert problem.kind == "imaging-finding"
    assert problem.reference == "DiagnosticReport/d1"
    assert problem.side is Side.RIGHT
    assert problem.matched_by_text


@pytest.mark.parametrize(
    "conclusion",
    [
        "No soft tissue calcification.",
        "Without soft tissue calcifications; normal alignment",
        "Vascular calcification of the dorsalis pedis artery.",  # not soft tissue
    ],
)
def test_negated_or_vascular_calcification_does_not_enter(conclusion: str) -> None:
    assert not facts_for(diagnostic_report("d1", (LOINC, "36305-1"), conclusion=conclusion)).in_pathway


def test_imaging_observation_coded_finding_with_foot_site() -> None:
    finding = observation(
        "o1",
        (LOINC, "36305-1", "XR Foot 3 Views"),
        category="imaging",
        value_concept={"coding": [{"system": SNOMED, "code": "60963005", "display": "Dystrophic calcification"}]},
    )
    (problem,) = facts_for(finding).problems
    assert problem.concept == "dystrophic-calcification"
    assert problem.matched_by_text is False
    # the same finding on a knee study is not the pathway's
    knee = observation(
        "o2", text="XR knee", category="imaging", value_concept={"coding": [{"system": SNOMED, "code": "60963005"}]}
    )
    assert not facts_for(knee).in_pathway


def test_draft_imaging_order_reason_enters_on_order_hooks_only() -> None:
    draft = service_request(
        "sr1",
        (LOINC, "30681-1", "MR Foot WO contrast"),
        status="draft",
        reason_codes=[{"coding": [{"system": SNOMED, "code": "18115005", "display": "Pathologic calcification"}]}],
    )
    facts = facts_for(hook="order-select", drafts=(draft,))
    (problem,) = facts.problems
    assert problem.kind == "draft-order-reason"
    assert problem.reference == "ServiceRequest/sr1"
    assert not facts_for(hook="patient-view", drafts=(draft,)).in_pathway
    # order-select reads only the selected drafts
    assert not facts_for(hook="order-select", drafts=(draft,), selections=()).in_pathway


def test_draft_order_reason_reference_to_a_siteless_condition() -> None:
    calcification = condition("c1", (SNOMED, "18115005", "Pathologic calcification"))  # no bodySite: not in alone
    draft = service_request(
        "sr1", (LOINC, "36307-7", "XR Foot - left 3 Views"), status="draft", reason_refs=["Condition/c1"]
    )
    assert not facts_for(calcification).in_pathway
    (problem,) = facts_for(calcification, hook="order-sign", drafts=(draft,)).problems
    assert problem.reference == "Condition/c1"
    assert problem.side is Side.LEFT  # from the order


def test_several_problems_at_once_and_no_duplicates() -> None:
    facts = facts_for(
        condition("c1", (ICD10CM, "M65.271")),
        condition("c2", (SNOMED, "442098006", "Mass of foot")),
        diagnostic_report("d1", (LOINC, "36305-1"), conclusion="Soft tissue calcification of the heel."),
        imaging_study("i1", "DX", body_site=FOOT),
    )
    assert [p.reference for p in facts.problems] == ["Condition/c1", "Condition/c2", "DiagnosticReport/d1"]
    assert {p.kind for p in facts.problems} == {"calcification", "soft-tissue-mass", "imaging-finding"}


def test_future_conditions_do_not_count() -> None:
    assert not facts_for(condition("c1", (ICD10CM, "M65.271"), onset="2027-01-05")).in_pathway


def test_codes_win_over_text() -> None:
    (problem,) = facts_for(
        condition(
            "c1",
            (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"),
            text="Myositis ossificans of the left heel",
        )
    ).problems
    # The concept is the code's; the side is not: the code says right, the words left (a laterality
    # conflict reads as no side, rather than a side the record contradicts).
    assert (problem.concept, problem.matched_by_text, problem.side) == ("calcific-tendinitis", False, None)


def test_a_patient_described_by_text_only() -> None:
    from cds_service.facts.model import LabTest, Modality

    facts = facts_for(
        condition("c1", text="Soft tissue calcification, right heel"),
        condition("dm", text="Type 2 diabetes mellitus"),
        observation("ca", text="Calcium, serum", value=(8.0, "mg/dL"), category="laboratory"),
        diagnostic_report(
            "d1", text="XR right foot 3 views", conclusion="Soft tissue calcification posterior to the calcaneus."
        ),
        service_request("sr1", text="MRI of the right foot"),
    )
    assert [p.reference for p in facts.problems] == ["Condition/c1", "DiagnosticReport/d1"]
    assert all(p.matched_by_text for p in facts.problems)
    assert facts.diabetes is not None
    assert facts.labs[LabTest.CALCIUM].direction == "low"
    (xr,) = facts.imaging_done([Modality.XR])
    assert xr.by_text and xr.side is Side.RIGHT
    assert [e.reference for e in facts.imaging_ordered([Modality.MR])] == ["ServiceRequest/sr1"]
