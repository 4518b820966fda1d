"""Imaging facts: studies done and ordered, one event per study, morphology hints, bone destruction."""

from __future__ import annotations

import pytest

from cds_service.facts.model import Modality, Side
from tests.support.facts_builders import (
    LOINC,
    SNOMED,
    condition,
    days_ago,
    diagnostic_report,
    facts_for,
    imaging_study,
    observation,
    procedure,
    service_request,
)

FOOT = (SNOMED, "56459004", "Foot structure")
ANKLE = (SNOMED, "344001", "Ankle region structure")
ENTRY = condition("c1", ("http://hl7.org/fhir/sid/icd-10-cm", "M65.271"))


@pytest.mark.parametrize(
    ("modality", "expected"),
    [("DX", Modality.XR), ("CR", Modality.XR), ("MR", Modality.MR), ("CT", Modality.CT), ("US", Modality.US)],
)
def test_imaging_study_modalities_with_foot_body_site(modality: str, expected: Modality) -> None:
    (event,) = facts_for(ENTRY, imaging_study("i1", modality, body_site=ANKLE)).imaging
    assert (event.modality, event.status, event.body_site) == (expected, "done", "ankle")


def test_imaging_study_of_another_site_is_left_out() -> None:
    assert facts_for(ENTRY, imaging_study("i1", "DX", description="Chest PA and lateral")).imaging == ()
    (event,) = facts_for(ENTRY, imaging_study("i1", "DX", description="XR LEFT FOOT 3 VIEWS")).imaging
    assert event.side is Side.LEFT


def test_report_procedure_and_study_of_one_day_are_one_event() -> None:
    facts = facts_for(
        ENTRY,
        imaging_study("i1", "DX", body_site=FOOT, started=f"{days_ago(10)}T09:00:00Z"),
        diagnostic_report("d1", (LOINC, "36305-1", "XR Foot 3 Views"), effective=days_ago(10), conclusion="Normal."),
        procedure("p1", (SNOMED, "1290452004", "Plain X-ray of foot"), performed=days_ago(10)),
        diagnostic_report("d2", (LOINC, "36305-1", "XR Foot 3 Views"), effective=days_ago(40)),
    )
    done = facts.imaging_done([Modality.XR])
    assert [e.reference for e in done] == ["ImagingStudy/i1", "DiagnosticReport/d2"]
    assert done[0].also == ("DiagnosticReport/d1", "Procedure/p1")


def test_imaging_done_window_is_inclusive_and_ordered_orders_are_separate() -> None:
    facts = facts_for(
        ENTRY,
        diagnostic_report("d90", (LOINC, "36305-1"), effective=days_ago(90)),
        diagnostic_report("d91", (LOINC, "24540-7", "XR Ankle 2 Views"), effective=days_ago(91)),
        service_request("sr1", (LOINC, "30681-1", "MR Foot WO contrast")),
        service_request("sr2", (LOINC, "36466-1", "CT Foot WO contrast"), status="completed"),
    )
    assert [e.reference for e in facts.imaging_done([Modality.XR], within_days=90)] == ["DiagnosticReport/d90"]
    assert len(facts.imaging_done([Modality.XR])) == 2
    assert [e.reference for e in facts.imaging_ordered([Modality.MR, Modality.CT])] == ["ServiceRequest/sr1"]


def test_lower_extremity_code_counts_only_with_a_foot_site() -> None:
    ct = (LOINC, "30625-8", "CT Lower extremity WO contrast")
    assert facts_for(ENTRY, diagnostic_report("d1", ct, conclusion="Thigh hematoma.")).imaging == ()
    (event,) = facts_for(ENTRY, diagnostic_report("d1", ct, conclusion="Calcification in the heel pad.")).imaging
    assert event.modality is Modality.CT


@pytest.mark.parametrize(
    ("conclusion", "pattern", "malignant"),
    [
        ("Round, dense, lamellated calcifications in the soft tissue of the ankle.", "phlebolith", False),
        ("Multiple rice-grain calcifications along the muscle fibres of the foot.", "cysticercosis", False),
        ("Small crescentic soft tissue calcifications of the foot.", "dracunculiasis", False),
        ("Chondrocalcinosis of the first MTP joint; soft tissue calcification.", "cppd", False),
        (
            "Big globs of calcium in the soft tissue near the ankle joint (tumoral calcinosis).",
            "tumoral-calcinosis",
            False,
        ),
        ("Finely speckled calcification throughout the soft tissues of the foot.", "metastatic", False),
        ("Amorphous, fluffy, confluent soft tissue calcification of the foot.", "osteosarcoma", True),
    ],
)
def test_morphology_hints(conclusion: str, pattern: str, malignant: bool) -> None:
    facts = facts_for(diagnostic_report("d1", (LOINC, "36305-1"), conclusion=conclusion))
    assert facts.in_pathway
    hints = {h.pattern: h for h in facts.morphology}
    assert pattern in hints
    assert hints[pattern].malignant is malignant
    assert hints[pattern].evidence.reference == "DiagnosticReport/d1"


def test_negated_morphology_is_not_a_hint() -> None:
    facts = facts_for(
        diagnostic_report(
            "d1", (LOINC, "36305-1"), conclusion="Soft tissue calcification of the heel. No chondrocalcinosis."
        )
    )
    assert facts.morphology == ()


def test_bone_destruction_from_report_text() -> None:
    facts = facts_for(
        ENTRY,
        diagnostic_report("d1", (LOINC, "36305-1"), conclusion="Cortical destruction of the first metatarsal head."),
    )
    assert facts.bone_destruction is not None
    assert facts.bone_destruction.reference == "DiagnosticReport/d1"
    calm = facts_for(ENTRY, diagnostic_report("d1", (LOINC, "36305-1"), conclusion="No bone destruction."))
    assert calm.bone_destruction is None


def test_probe_to_bone_is_text_only_and_within_30_days() -> None:
    assert facts_for(ENTRY, procedure("p1", text="Probe-to-bone test", performed=days_ago(30))).probe_to_bone_done
    assert facts_for(ENTRY, procedure("p1", text="Probe to bone", performed=days_ago(31))).probe_to_bone_done is None
    exam = observation("o1", text="Probe-to-bone test", value_string="negative", category="exam")
    assert facts_for(ENTRY, exam).probe_to_bone_done
    # Without the exam (or procedure) category no prefetch key can bring it: it is not read either.
    assert facts_for(ENTRY, observation("o1", text="Probe-to-bone test", value_string="negative")).probe_to_bone_done is None


def test_a_sided_report_merges_with_its_unsided_study_but_two_sides_stay_two() -> None:
    facts = facts_for(
        ENTRY,
        imaging_study("i1", "DX", body_site=FOOT, started=f"{days_ago(3)}T09:00:00Z"),
        diagnostic_report("d1", (LOINC, "37699-6", "XR Foot - right 3 Views"), effective=days_ago(3)),
        diagnostic_report("d2", (LOINC, "36307-7", "XR Foot - left 3 Views"), effective=days_ago(3)),
    )
    done = facts.imaging_done([Modality.XR])
    assert [(e.reference, e.side, e.also) for e in done] == [
        ("ImagingStudy/i1", Side.RIGHT, ("DiagnosticReport/d1",)),
        ("DiagnosticReport/d2", Side.LEFT, ()),
    ]
