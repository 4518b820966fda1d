"""Explain mode (issue 19): the explanation and the cards come from one evaluation.

On every patient of both fixture sets (fhir_fixtures bundles + drafts, and the EHR-shaped set), on all three
hooks, in prefetch mode and fetched from the tests' real FHIR server (paging on):
- the nodes marked fired are exactly the nodes the cards carry, and the cards are the hook's own answer;
- a fired node has a rule whose conditions all hold; a node that did not fire has none (its rules are
  reported whole: every condition answered, even after the first failed);
- the explanation holds no token; its FHIR form is a valid GuidanceResponse;
- the expected explanations are checked in (tests/explain_expected/, one readable JSON per case). After an
  intended change, regenerate them and read the diff:

      EXPLAIN_REGENERATE=1 .venv/test/bin/python -m pytest -q tests/test_explain.py -k expected

Small fixtures here add the reasons the sets do not show (a node turned off, an unreadable record).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service.explain.build import carried_nodes
from cds_service.explain.fhir import guidance_response
from cds_service.explain.model import Explanation
from cds_service.explain.reading import READS
from cds_service.explain.run import Explained, explain_call
from cds_service.gathering.fhir_client import FhirClient
from cds_service.guideline.config import PathwayConfig, load_pathway_config
from cds_service.guideline.nodes import pathway_spec
from cds_service.invocation import Invocation, invoke
from cds_service.pathway.questions import QUESTIONS
from fhir_fixtures import hook_requests
from fhir_fixtures.catalog import HOOKS, PATIENTS
from fhir_fixtures.ehr import catalog as ehr
from fhir_fixtures.load import load
from tests.support.e2e_run import BASE_URL, SERVICE_BY_HOOK, TEST_SERVER_DEADLINE_SECONDS, RecordedCards
from tests.support.gathering_fhir_server import FhirTestServer, fhir_server, fixtures_loaded  # noqa: F401 (fixture)

JSON = dict[str, Any]
TODAY = date(2028, 3, 1)
EXPECTED = Path(__file__).parent / "explain_expected"
BIG = ("ehr-big-dialysis", "ehr-big-history")
PAGE_SIZE = 5
TOKEN = "fhir-token-SECRET-explain-4711"
CASES = [("fc", p, h) for p in PATIENTS for h in HOOKS] + [("ehr", p, h) for p in ehr.PATIENTS for h in HOOKS]
IDS = [f"{s}-{p}-{h}" for s, p, h in CASES]


def _build(fixture_set: str, patient: str, hook: str, **kwargs: Any) -> JSON:
    module = ehr if fixture_set == "ehr" else hook_requests
    return module.build_request(patient, hook, TODAY, **kwargs)


def _call(hook: str, config: PathwayConfig | None = None, client: FhirClient | None = None) -> Invocation:
    return Invocation(SERVICE_BY_HOOK[hook], BASE_URL, client or FhirClient(), config or load_pathway_config(),
                      RecordedCards(), deadline_seconds=TEST_SERVER_DEADLINE_SECONDS)


def _explain(body: JSON, hook: str, config: PathwayConfig | None = None, client: FhirClient | None = None) -> Explained:
    return asyncio.run(explain_call(_call(hook, config, client), body, today=TODAY))


def one_evaluation_problems(explained: Explained, hook_response: JSON | None = None) -> list[str]:
    """What breaks "the explanation and the cards come from one evaluation"."""
    problems = []
    e, cards = explained.explanation, explained.evaluation.response["cards"]
    fired = {n.id for n in e.nodes if n.outcome == "fired"}
    carried = [node for card in cards for node in carried_nodes(card)]
    if fired != set(carried) or len(carried) != len(set(carried)):
        problems.append(f"fired {sorted(fired)} != carried by the cards {carried}")
    if hook_response is not None:
        hook_nodes = [carried_nodes(c) for c in hook_response["cards"]]
        if hook_nodes != [carried_nodes(c) for c in cards]:
            problems.append(f"the hook answered {hook_nodes}, the explanation explains {[carried_nodes(c) for c in cards]}")
    for node in e.nodes:
        if node.outcome == "fired" and cards[node.card]["summary"] != e.cards[node.card].summary:  # type: ignore[index]
            problems.append(f"{node.id}: card {node.card} is not the card it names")
        held = [r for r in node.rules if all(c.holds for c in r.conditions if c.part == "all")
                and (not any(c.part == "any" for c in r.conditions) or any(c.holds for c in r.conditions if c.part == "any"))]
        if [r.rule for r in held] != [r.rule for r in node.rules if r.fired]:
            problems.append(f"{node.id}: rules marked fired {[r.rule for r in node.rules if r.fired]} but holding {[r.rule for r in held]}")
        if node.outcome == "fired" and not held:
            problems.append(f"{node.id}: fired with no rule holding")
        if node.outcome in ("did-not-fire", "could-not-be-decided") and node.why_code in ("rule-not-met", "data-unreadable") and held:
            problems.append(f"{node.id}: did not fire, yet rule {held[0].rule} holds")
        spec_rules = pathway_spec().node(node.id).rules_for(e.hook)  # type: ignore[union-attr]
        if e.in_pathway and node.why_code not in ("deceased",):
            for rule, spec_rule in zip(node.rules, spec_rules, strict=False):
                if [c.condition for c in rule.conditions] != [*spec_rule.all, *spec_rule.any]:
                    problems.append(f"{node.id}/{rule.rule}: not every condition was answered")
            if len(node.rules) != len(spec_rules):
                problems.append(f"{node.id}: {len(node.rules)} rules explained of {len(spec_rules)}")
    return problems


def summary(e: Explanation) -> JSON:
    """The checked-in expectation: per node its outcome and every condition's answer, reason and records."""
    return {
        "cards": [card.nodes for card in e.cards],
        "nodes": {
            n.id: {
                "outcome": n.outcome, "why": n.why_code, "card": n.card,
                "rules": {r.rule: [f"{c.condition} = {c.answer} ({c.reason})"
                                   + (f" {sorted({x.reference for x in c.records if x.reference})}" if c.records else "")
                                   for c in r.conditions] for r in n.rules},
            } for n in e.nodes
        },
        "unused_records": [f"{u.reference}: {u.reason}" for u in e.unused_records],
    }


# --- every fixture patient, prefetch mode --------------------------------------------------------------


def test_every_question_says_what_it_reads() -> None:
    assert sorted(QUESTIONS) == sorted(READS)


@pytest.mark.parametrize(("fixture_set", "patient", "hook"), CASES, ids=IDS)
def test_prefetch_mode_explanation_is_the_hooks_evaluation(fixture_set: str, patient: str, hook: str) -> None:
    body = _build(fixture_set, patient, hook)
    explained = _explain(body, hook)
    hook_response = asyncio.run(invoke(_call(hook), body, today=TODAY))
    assert not one_evaluation_problems(explained, hook_response), one_evaluation_problems(explained, hook_response)
    fhir = guidance_response(explained.explanation, request_id=body["hookInstance"], patient_id=patient)
    assert fhir["resourceType"] == "GuidanceResponse"
    assert {p["name"] for p in fhir["contained"][0]["parameter"]} == {n.id for n in pathway_spec().nodes}


@pytest.mark.parametrize(("fixture_set", "patient", "hook"), CASES, ids=IDS)
def test_expected_explanations(fixture_set: str, patient: str, hook: str) -> None:
    got = summary(_explain(_build(fixture_set, patient, hook), hook).explanation)
    path = EXPECTED / f"{fixture_set}-{patient}-{hook}.json"
    text = json.dumps(got, indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("EXPLAIN_REGENERATE"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no expected explanation {path.name}: regenerate (see this module's docstring)"
    # Compared as text: pytest shows a line diff of what changed.
    assert text == path.read_text(encoding="utf-8")


# Reasons the fixture sets must show for each node not firing (beyond "outside the pathway" and "deceased",
# which every node shows). A node whose only condition is in_pathway cannot fail otherwise.
REASONS: dict[str, set[str]] = {
    "initial-radiograph": {"found", "not-of-the-foot"},
    "conservative-care": {"found"},
    "advanced-imaging": {"no-record", "out-of-window", "not-of-the-foot", "not-matching", "found"},
    "metabolic-workup": {"out-of-window", "not-matching"},
    "metabolic-cause": {"no-record", "out-of-range"},
    "osteomyelitis-rule-out": {"no-record", "found"},
    "eschar-no-debridement": {"no-record", "not-matching", "not-of-the-foot"},
    "infection-management": {"not-matching"},
    "urgent-surgery": {"no-record"},
    "surgical-referral": {"no-record", "out-of-window", "not-matching", "left-out"},
    "malignancy-referral": {"no-record", "not-matching", "left-out"},
    "repeat-radiograph": {"out-of-window", "not-matching", "found"},
    "dfi-reassessment": {"no-record", "not-matching"},
}


def test_each_node_does_not_fire_for_each_reason_somewhere() -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    codes: dict[str, set[str]] = defaultdict(set)
    for fixture_set, patient, hook in CASES:
        for node in _explain(_build(fixture_set, patient, hook), hook).explanation.nodes:
            codes[node.id].add(node.why_code)
            if node.outcome == "did-not-fire":
                seen[node.id] |= {c.reason for r in node.rules for c in r.conditions if not c.holds}
    for node in pathway_spec().nodes:
        assert {"outside-pathway", "deceased", "rule-met"} <= codes[node.id], (node.id, codes[node.id])
        assert REASONS.get(node.id, set()) <= seen[node.id], (node.id, seen[node.id])
    assert "yielded" in codes["differential-diagnosis"] and "yielded" in codes["repeat-radiograph"]


def test_a_node_turned_off_is_not_reached_and_carried_by_no_card(tmp_path: Path) -> None:
    path = tmp_path / "pathway.toml"
    path.write_text('[nodes.initial-radiograph]\nenabled = false\n', encoding="utf-8")
    config = load_pathway_config(path)
    explained = _explain(_build("fc", "fc-tendinitis-no-xr", "patient-view"), "patient-view", config)
    node = next(n for n in explained.explanation.nodes if n.id == "initial-radiograph")
    assert (node.outcome, node.why_code, node.card) == ("not-reached", "turned-off", None)
    assert node.rules[0].fired  # its rule held: the setting hid the card, not the rule
    assert not one_evaluation_problems(explained)


def test_an_unreadable_record_leaves_a_node_undecided_not_quietly_no() -> None:
    body = _build("fc", "fc-tendinitis-no-xr", "patient-view")
    bad = {"resourceType": "Observation", "id": "explain-unreadable", "status": 7, "code": {"text": "Calcium"}}
    body["prefetch"]["lab-results"].setdefault("entry", []).append({"resource": bad})
    explained = _explain(body, "patient-view")
    e = explained.explanation
    assert any(i.get("resource") == "Observation/explain-unreadable" for i in e.data_issues)
    node = next(n for n in e.nodes if n.id == "metabolic-cause")
    assert (node.outcome, node.why_code) == ("could-not-be-decided", "data-unreadable")
    condition = node.rules[0].conditions[-1]
    assert (condition.condition, condition.answer) == ("metabolic_abnormality", "unknown")
    assert "Observation/explain-unreadable" in condition.left_out
    fhir = guidance_response(e, request_id=body["hookInstance"], patient_id="fc-tendinitis-no-xr")
    assert fhir["status"] == "data-required" and {"type": "Observation"} in fhir["dataRequirement"]
    assert not one_evaluation_problems(explained)


def test_no_patient_data_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    body = _build("fc", "fc-tendinitis-no-xr", "patient-view")
    body["prefetch"]["lab-results"].setdefault("entry", []).append(
        {"resource": {"resourceType": "Observation", "id": "x1", "status": 7, "code": {"text": "Calcium"}}})
    with caplog.at_level(logging.DEBUG):
        _explain(body, "patient-view")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "fc-tendinitis-no-xr" not in logged and "Calcific tendinitis" not in logged


# --- fetch mode: the tests' real FHIR server ------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(fhir_server: FhirTestServer) -> Iterator[dict[tuple[str, str], FhirTestServer]]:  # noqa: F811
    from tests.support.gathering_fhir_server import running_fhir_server

    with fixtures_loaded(fhir_server, TODAY):
        small = tuple(p for p in ehr.PATIENTS if p not in BIG)
        with requests.Session() as session:
            load(fhir_server.base_url, today=TODAY, patients=small, bundle_of=ehr.bundle, session=session)
        node = shutil.which("node")
        assert node is not None
        with running_fhir_server(node) as big, fhir_server.page_size(PAGE_SIZE):
            with requests.Session() as session:
                load(big.base_url, today=TODAY, patients=BIG, bundle_of=ehr.bundle, session=session)
            yield {(s, p): big if p in BIG else fhir_server for s, p, _ in CASES}


@pytest.fixture(scope="module")
def client() -> Iterator[FhirClient]:
    fhir = FhirClient(read_timeout=60.0)
    yield fhir
    fhir.close()


@pytest.mark.fhir_server
@pytest.mark.parametrize(("fixture_set", "patient", "hook"), CASES, ids=IDS)
def test_fetch_mode_explanation_is_the_hooks_evaluation(servers: dict[tuple[str, str], FhirTestServer],
                                                        client: FhirClient, fixture_set: str, patient: str,
                                                        hook: str) -> None:
    server = servers[(fixture_set, patient)]
    body = _build(fixture_set, patient, hook, with_prefetch=False, fhir_server=server.base_url)
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "patient/*.read", "subject": "cds-service"}
    explained = _explain(body, hook, client=client)
    assert not one_evaluation_problems(explained), one_evaluation_problems(explained)
    dumped = json.dumps(explained.explanation.model_dump(mode="json"))
    assert TOKEN not in dumped
    # The same nodes as from prefetch: the mode changes how the record arrives, not what it says.
    prefetch = _explain(_build(fixture_set, patient, hook), hook).explanation
    assert [(n.id, n.outcome) for n in explained.explanation.nodes] == [(n.id, n.outcome) for n in prefetch.nodes]
