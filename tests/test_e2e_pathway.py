"""End to end through the evaluator: every fixture patient and hook, on a fixed day, against the
expectations table written from the pathway spec (tests/support/e2e_expectations.py)."""

from __future__ import annotations

from datetime import date

import pytest

from fhir_fixtures.catalog import HOOKS, PATIENTS
from tests.support.e2e_checks import check_response, node_ids
from tests.support.e2e_expectations import DETAILS, EXPECTED, SEED_FRAGMENTS
from tests.support.e2e_run import CASES, run_fixture

# Days far from the calendar, crossing a leap day and a year end: dates must come from `today`, never from
# the clock.
TODAY = date(2028, 3, 1)
DAYS = (TODAY, date(2027, 1, 3))


@pytest.mark.parametrize("today", DAYS, ids=[d.isoformat() for d in DAYS])
@pytest.mark.parametrize(("patient", "hook"), CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_fixture_cards_match_the_spec(patient: str, hook: str, today: date) -> None:
    request, response = run_fixture(patient, hook, today)
    problems = check_response(patient, hook, request, response, today)
    assert not problems, "\n".join(problems)


def test_the_table_covers_every_fixture_and_hook() -> None:
    assert set(EXPECTED) == set(PATIENTS)
    assert all(set(hooks) == set(HOOKS) for hooks in EXPECTED.values())
    for patient, hook, node in DETAILS:
        assert node in EXPECTED[patient][hook], (
            f"DETAILS names {node} for {patient} {hook}, which the table does not expect"
        )


def test_together_the_fixtures_fire_every_node_on_every_hook_it_has() -> None:
    fired = {(hook, node) for hooks in EXPECTED.values() for hook, nodes in hooks.items() for node in nodes}
    patient_view = {node for hook, node in fired if hook == "patient-view"}
    assert patient_view == set(SEED_FRAGMENTS)
    order_nodes = {node for hook, node in fired if hook != "patient-view"}
    assert {
        "initial-radiograph",
        "advanced-imaging",
        "repeat-radiograph",
        "eschar-no-debridement",
        "metabolic-workup",
        "osteomyelitis-rule-out",
    } <= order_nodes
    quiet = [p for p, hooks in EXPECTED.items() if not any(hooks.values())]
    assert len(quiet) >= 2


def test_a_quiet_answer_records_nothing_and_a_card_is_recorded() -> None:
    from cds_service.gathering.fhir_client import FhirClient
    from cds_service.guideline.config import load_pathway_config
    from cds_service.invocation import Invocation
    from fhir_fixtures.hook_requests import build_request
    from tests.support.e2e_run import BASE_URL, SERVICE_BY_HOOK, RecordedCards, run_invoke

    for patient, expect_cards in (("fc-outside", False), ("fc-tendinitis-no-xr", True)):
        recorder = RecordedCards()
        call = Invocation(SERVICE_BY_HOOK["patient-view"], BASE_URL, FhirClient(), load_pathway_config(), recorder)
        response = run_invoke(call, build_request(patient, "patient-view", TODAY), today=TODAY)
        assert bool(recorder.calls) is expect_cards, (patient, node_ids(response))


def test_the_readme_table_shows_the_expected_cards() -> None:
    import re

    from fhir_fixtures.table import markdown_table

    rows = markdown_table(TODAY).splitlines()[2:]
    assert len(rows) == len(PATIENTS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        patient = cells[0].strip("`")
        for hook, cell in zip(HOOKS, cells[2:], strict=True):
            shown = dict(re.findall(r"`([a-z-]+)` (info|warning|critical)", cell))
            assert shown == EXPECTED[patient][hook], (patient, hook, cell)
