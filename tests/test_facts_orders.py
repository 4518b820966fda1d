"""Draft and active orders as the order hooks read them."""

from __future__ import annotations

from cds_service.facts.model import LabTest, Modality, Side
from tests.support.facts_builders import ICD10CM, LOINC, SNOMED, condition, facts_for, service_request

ENTRY = condition("entry", (ICD10CM, "M65.271"))


def test_draft_orders_by_category() -> None:
    drafts = (
        service_request(
            "xr",
            (LOINC, "37699-6", "XR Foot - right 3 Views"),
            status="draft",
            occurrence="2026-12-01",
            reason_refs=["Condition/entry"],
        ),
        service_request("ca", (LOINC, "17861-6"), status="draft"),
        service_request("ref", (SNOMED, "306286007", "Referral to nephrologist"), status="draft"),
        service_request(
            "deb",
            (SNOMED, "312775003", "Debridement of ulcer"),
            status="draft",
            body_site=(SNOMED, "56459004", "Foot structure"),
        ),
        service_request("fu", (SNOMED, "185389009", "Follow-up visit"), status="draft"),
        service_request("misc", text="Compression stockings", status="draft"),
    )
    facts = facts_for(ENTRY, hook="order-sign", drafts=drafts)
    by_id = {d.reference.split("/")[1]: d for d in facts.draft_orders}
    xr = by_id["xr"]
    assert (xr.category, xr.modality, xr.side, xr.body_site) == ("imaging", Modality.XR, Side.RIGHT, "foot")
    assert xr.occurrence.isoformat() == "2026-12-01"
    assert xr.reason_references == ("Condition/entry",)
    assert xr.resource is not None and xr.resource["id"] == "xr"
    assert xr.code == ((LOINC, "37699-6"),)
    assert (by_id["ca"].category, by_id["ca"].lab_test) == ("lab", LabTest.CALCIUM)
    assert (by_id["ref"].category, by_id["ref"].referral) == ("referral", "nephrology")
    assert (by_id["deb"].category, by_id["deb"].procedure, by_id["deb"].body_site) == (
        "procedure",
        "debridement",
        "foot",
    )
    assert by_id["fu"].category == "follow-up"
    assert by_id["misc"].category == "other"
    assert all(d.selected for d in facts.draft_orders)


def test_selected_only_for_the_selections() -> None:
    drafts = (
        service_request("a", (LOINC, "36466-1"), status="draft"),
        service_request("b", (LOINC, "2777-1"), status="draft"),
    )
    facts = facts_for(ENTRY, hook="order-select", drafts=drafts, selections=("ServiceRequest/a",))
    assert [(d.reference, d.selected) for d in facts.draft_orders] == [
        ("ServiceRequest/a", True),
        ("ServiceRequest/b", False),
    ]


def test_active_orders_exclude_imaging_which_is_an_ordered_event() -> None:
    facts = facts_for(
        ENTRY,
        service_request("pth", (LOINC, "2731-8")),
        service_request("mri", (LOINC, "30681-1")),
        service_request("old", (LOINC, "2160-0"), status="completed"),
    )
    assert [(o.reference, o.category, o.lab_test) for o in facts.active_orders] == [
        ("ServiceRequest/pth", "lab", LabTest.PTH)
    ]
    assert [e.reference for e in facts.imaging_ordered([Modality.MR])] == ["ServiceRequest/mri"]
