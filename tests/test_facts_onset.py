"""Issue 16, class "onset": every onset[x] form is read as the start of the problem, by one helper.

Rule: onsetDateTime; onsetPeriod.start, else its end ("began no later than"); onsetAge / onsetRange.high
from Patient.birthDate, to the last day of that age (the latest start the record allows); onsetString only
when it is a date. Seed 000: "Surgical excision ... may be considered ... if ... symptomatic despite
conservative management" (spec surgical-referral: 6 weeks, nodes.toml local default).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.facts.conditions import onset_start
from cds_service.facts.extract import build_facts
from cds_service.facts.parse import to_clinical_data
from cds_service.guideline.config import load_pathway_config
from cds_service.pathway.questions import not_responding_to_conservative_care
from tests.support.facts_builders import (
    ICD10CM,
    PATIENT_ID,
    TODAY,
    condition,
    days_ago,
    raw_record,
    service_request,
)

BIRTH = date(1970, 3, 15)
CALCIFIC = (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot")
FOOT_PAIN = (ICD10CM, "M79.671", "Pain in right foot")


def _with(onset: dict[str, Any]) -> dict[str, Any]:
    c = condition("calc", CALCIFIC)
    c.update(onset)
    return c


def _facts(*resources: dict[str, Any], birth: date | None = BIRTH) -> Any:
    record = raw_record(*resources)
    if birth is not None:
        record.patient["birthDate"] = birth.isoformat()
    data = to_clinical_data(record, PATIENT_ID)
    return build_facts(data, hook="patient-view", today=TODAY, config=load_pathway_config())


@pytest.mark.parametrize(
    "onset,expected",
    [
        ({"onsetDateTime": "2026-01-02"}, date(2026, 1, 2)),
        ({"onsetPeriod": {"start": "2026-02-01", "end": "2026-03-01"}}, date(2026, 2, 1)),
        ({"onsetPeriod": {"end": "2026-03-01"}}, date(2026, 3, 1)),
        ({"onsetAge": {"value": 55, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}},
         date(2026, 3, 14)),
        ({"onsetAge": {"value": 660, "code": "mo"}}, date(2025, 4, 14)),  # to the end of month 660
        ({"onsetRange": {"low": {"value": 50, "code": "a"}, "high": {"value": 54, "code": "a"}}}, date(2025, 3, 14)),
        ({"onsetRange": {"low": {"value": 50, "code": "a"}}}, None),
        ({"onsetString": "2026-04"}, date(2026, 4, 1)),
        ({"onsetString": "in childhood"}, None),
        ({"onsetAge": {"value": 55, "code": "parsec"}}, None),
    ],
)
def test_onset_start_reads_every_form(onset: dict[str, Any], expected: date | None) -> None:
    assert onset_start(_with(onset), BIRTH) == expected


def test_age_forms_need_a_birth_date() -> None:
    assert onset_start(_with({"onsetAge": {"value": 55, "code": "a"}}), None) is None


@pytest.mark.parametrize(
    "onset",
    [{"onsetAge": {"value": 55, "code": "a"}}, {"onsetPeriod": {"end": "2026-03-01"}},
     {"onsetRange": {"high": {"value": 55, "code": "a"}}}, {"onsetString": "2026-03-01"}],
)
def test_problem_onset_from_any_form_reaches_the_6_week_surgical_rule(onset: dict[str, Any]) -> None:
    f = _facts(_with(onset), condition("pain", FOOT_PAIN, onset=days_ago(60)))
    (problem,) = f.problems
    assert problem.onset is not None and (TODAY - problem.onset).days >= 42
    assert not_responding_to_conservative_care(f, load_pathway_config())


def test_an_age_of_the_current_year_of_life_is_not_six_weeks_old() -> None:
    # Aged 56 (birthday 1970-03-15, today 2026-11-21): the start may be as late as 2027-03-14, so the
    # record does not say it is six weeks old; the rule must not fire on it.
    f = _facts(_with({"onsetAge": {"value": 56, "code": "a"}}), condition("pain", FOOT_PAIN, onset=days_ago(60)))
    assert not not_responding_to_conservative_care(f, load_pathway_config())


def test_draft_order_reason_reads_the_onset_too() -> None:
    draft = service_request("d1", ("http://loinc.org", "36305-1", "XR Foot 3 Views"), status="draft",
                            reason_refs=["Condition/calc"])
    record = raw_record(_with({"onsetPeriod": {"end": "2026-03-01"}}), drafts=(draft,),
                        selections=("ServiceRequest/d1",))
    record.patient["birthDate"] = BIRTH.isoformat()
    data = to_clinical_data(record, PATIENT_ID)
    f = build_facts(data, hook="order-select", today=TODAY, config=load_pathway_config())
    assert {p.onset for p in f.problems} == {date(2026, 3, 1)}
