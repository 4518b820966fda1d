"""Issue 16, radiograph evidence: a completed imaging order with no study or report of it is a study done,
dated by its occurrence else its authoredOn; an ImagingStudy dated only in its series is dated by its
earliest series. For every modality; one study is never counted twice."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cds_service.facts.dates import clinical_date
from cds_service.facts.imaging import ORDER_FOLD_DAYS
from cds_service.facts.model import Modality
from tests.support.facts_builders import (
    LOINC,
    SNOMED,
    TODAY,
    condition,
    days_ago,
    diagnostic_report,
    facts_for,
    imaging_study,
    service_request,
)
from tests.support.pathway_facts import results_by_node

ENTRY = condition("c1", ("http://hl7.org/fhir/sid/icd-10-cm", "M65.271"))
XR_FOOT = (LOINC, "36305-1", "XR Foot 3 Views")
MR_FOOT = (LOINC, "30681-1", "MR Foot WO contrast")
CT_FOOT = (LOINC, "36466-1", "CT Foot WO contrast")
FOOT = (SNOMED, "56459004", "Foot structure")


def _ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def completed(id: str, code=XR_FOOT, *, occurrence: str | None = None, authored: str | None = None, **kw):
    order = service_request(id, code, status="completed", occurrence=occurrence, **kw)
    if authored is not None:
        order["authoredOn"] = authored
    return order


def series_only_study(id: str, *starts: str, modality: str = "DX") -> dict:
    study = imaging_study(id, modality, body_site=FOOT)
    del study["started"]
    study["series"] = [{**study["series"][0], "uid": f"1.2.{n}", "started": start} for n, start in enumerate(starts)]
    return study


@pytest.mark.parametrize(("code", "modality"), [(XR_FOOT, Modality.XR), (MR_FOOT, Modality.MR), (CT_FOOT, Modality.CT)])
def test_a_completed_order_alone_is_a_study_done_dated_by_its_occurrence(code, modality) -> None:
    facts = facts_for(ENTRY, completed("sr1", code, occurrence=days_ago(12), authored=days_ago(15)))
    (event,) = facts.imaging_done([modality])
    assert (event.reference, event.status, event.when) == ("ServiceRequest/sr1", "done", _ago(12))
    assert facts.imaging_ordered([modality]) == ()


def test_a_completed_order_without_occurrence_is_dated_by_authored_on() -> None:
    (event,) = facts_for(ENTRY, completed("sr1", authored=f"{days_ago(9)}T10:00:00Z")).imaging_done([Modality.XR])
    assert event.when == _ago(9)


def test_an_undated_completed_order_is_a_radiograph_done_without_a_date() -> None:
    (event,) = facts_for(ENTRY, completed("sr1")).imaging_done([Modality.XR])
    assert event.when is None


def test_the_order_of_a_study_in_the_record_is_not_a_second_study() -> None:
    study = imaging_study("i1", "DX", body_site=FOOT, started=f"{days_ago(3)}T09:00:00Z")
    study["basedOn"] = [{"reference": "ServiceRequest/sr1"}]
    # basedOn links them whatever the dates say
    facts = facts_for(ENTRY, completed("sr1", authored=days_ago(30)), study)
    assert [e.reference for e in facts.imaging_done([Modality.XR])] == ["ImagingStudy/i1"]


@pytest.mark.parametrize("gap", [0, 3, ORDER_FOLD_DAYS])
def test_an_unlinked_study_days_after_the_order_is_its_study(gap: int) -> None:
    facts = facts_for(
        ENTRY,
        completed("sr1", authored=days_ago(20)),
        diagnostic_report("d1", XR_FOOT, effective=days_ago(20 - gap), conclusion="Soft tissue calcification."),
    )
    assert [e.reference for e in facts.imaging_done([Modality.XR])] == ["DiagnosticReport/d1"]


def test_a_repeat_film_weeks_later_leaves_the_first_order_counted() -> None:
    facts = facts_for(
        ENTRY,
        completed("sr1", authored=days_ago(40)),
        diagnostic_report("d1", XR_FOOT, effective=days_ago(20)),  # the repeat, 20 days after the order
    )
    assert [e.reference for e in facts.imaging_done([Modality.XR])] == ["DiagnosticReport/d1", "ServiceRequest/sr1"]


def test_a_study_of_another_modality_does_not_absorb_the_order() -> None:
    facts = facts_for(ENTRY, completed("sr1", authored=days_ago(5)), diagnostic_report("d1", MR_FOOT, effective=days_ago(4)))
    assert [e.reference for e in facts.imaging_done([Modality.XR])] == ["ServiceRequest/sr1"]


def test_a_completed_order_of_another_site_is_not_foot_imaging() -> None:
    knee = (SNOMED, "72696002", "Knee region structure")
    chest = (LOINC, "36643-5", "XR Chest 2 Views")
    assert facts_for(ENTRY, completed("sr1", chest, authored=days_ago(5))).imaging == ()
    assert facts_for(
        ENTRY, completed("sr2", None, text="X-ray", authored=days_ago(5), body_site=knee)
    ).imaging == ()


def test_cancelled_and_revoked_orders_are_not_studies() -> None:
    for status in ("revoked", "entered-in-error", "on-hold", "draft"):
        order = service_request("sr1", XR_FOOT, status=status, occurrence=days_ago(5))
        assert facts_for(ENTRY, order).imaging_done([Modality.XR]) == (), status


def test_a_study_dated_only_in_its_series_is_dated_by_the_earliest_series() -> None:
    study = series_only_study("i1", f"{days_ago(15)}T10:00:00Z", f"{days_ago(20)}T08:00:00Z", days_ago(16))
    study["series"].append({**study["series"][0], "uid": "1.2.9"})
    del study["series"][-1]["started"]  # a series without a date is passed over
    assert clinical_date(study, "ImagingStudy") == _ago(20)
    (event,) = facts_for(ENTRY, study).imaging_done([Modality.XR])
    assert event.when == _ago(20)


def test_started_wins_over_the_series() -> None:
    study = series_only_study("i1", days_ago(20))
    study["started"] = days_ago(10)
    assert clinical_date(study, "ImagingStudy") == _ago(10)


@pytest.mark.parametrize("modality", ["MR", "CT", "US"])
def test_series_dates_count_for_every_modality(modality: str) -> None:
    (event,) = facts_for(ENTRY, series_only_study("i1", days_ago(8), modality=modality)).imaging
    assert event.when == _ago(8)


def test_the_repeat_radiograph_timing_comes_from_the_series_date() -> None:
    """The film's date sets the 14-28-day repeat window (seed 000 ref 2), not "no date, no timing"."""
    results = results_by_node(facts_for(ENTRY, series_only_study("i1", f"{days_ago(10)}T09:00:00Z")))
    assert "initial-radiograph" not in results
    repeat = results["repeat-radiograph"]
    assert repeat.variables["last_radiograph"] == _ago(10)


def test_a_completed_radiograph_order_is_a_radiograph_done_for_the_pathway() -> None:
    results = results_by_node(facts_for(ENTRY, completed("sr1", occurrence=days_ago(10))))
    assert "initial-radiograph" not in results  # not suggested again
    assert results["repeat-radiograph"].variables["last_radiograph"] == _ago(10)
