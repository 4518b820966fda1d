"""Explain mode (issue 19): the explanation and the cards come from one evaluation.

On every patient of both fixture sets (fhir_fixtures bundles + drafts, and the EHR-shaped set), on all three
hooks, in prefetch mode and fetched from the tests' real FHIR server (paging on):
- the nodes marked fired are exactly the nodes the cards carry, and the cards are the hook's own answer;
- a fired node has a rule whose conditions all hold; a node that did not fire has none (its rules are
  reported whole: every condition answered, even after the first failed);
- the explanation holds no token; its FHIR form is a valid GuidanceResponse;
- the expected explanations are checked in (tests/explain_expected/, one readable JSON per case). After an
  intended change, regenerate them and read the diff:

      EXPLAIN_REGENERATE=1 .venv/test/bin/python -m pytest -q tests/test_explain.py -k "expected or coverage"

Small fixtures here add the outcomes and reasons the sets do not show (a node turned off, snoozed after an
override, a rule holding with nothing left to suggest, an unreadable record, a lost prefetch Bundle, records
only entered in error, an order-sign without drafts). tests/explain_coverage.json is the table of what every
node shows, per outcome and reason, over all these explanations: a lost case is a diff of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cds_service.explain.build import FIELD_TYPES, carried_nodes
from cds_service.explain.fhir import guidance_response
from cds_service.explain.model import Explanation, NodeExplanation
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
from tests.support.e2e_run import BASE_URL, SERVICE_BY_HOOK, TEST_SERVER_DEADLINE_SECONDS, RecordedCards
from tests.support.gathering_fhir_server import (  # noqa: F401 (fhir_server: a fixture)
    FhirTestServer,
    both_sets_served,
    fhir_server,
    scanning_server_client,
)

JSON = dict[str, Any]
TODAY = date(2028, 3, 1)
EXPECTED = Path(__file__).parent / "explain_expected"
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


def _with_entered_in_error_copies(patient: str, hook: str = "patient-view") -> JSON:
    """The patient's request with, beside each record of the chart, a copy entered in error (Condition:
    verificationStatus; others: status): records of each kind present, each left out."""
    body = _build("fc", patient, hook)
    for key, value in body["prefetch"].items():
        if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
            continue
        copies = []
        for entry in value.get("entry", []):
            copy = json.loads(json.dumps(entry["resource"]))
            copy["id"] += "-eie"
            if copy["resourceType"] == "Condition":
                copy["verificationStatus"] = {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]}
            else:
                copy["status"] = "entered-in-error"
            copies.append({"resource": copy})
        value["entry"] = [*value.get("entry", []), *copies]
    return body


def explain_left_out_only(patient: str, kinds: tuple[str, ...], hook: str = "patient-view") -> Explained:
    """`patient` whose records of `kinds` are all entered in error (each kind present, none counting)."""
    body = _with_entered_in_error_copies(patient, hook)
    for value in body["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            value["entry"] = [e for e in value.get("entry", [])
                              if e["resource"]["resourceType"] not in kinds or e["resource"]["id"].endswith("-eie")]
    return _explain(body, hook)


# Cases added for (node, reason) pairs the fixture sets do not show: name -> the explanation.
EXTRA_CASES: dict[str, Callable[[], Explained]] = {
    # Only entered-in-error labs: "left-out", not "no-record", for the questions reading labs.
    "labs-entered-in-error": lambda: explain_left_out_only("fc-mass-undetermined", ("Observation",)),
    # Only entered-in-error imaging and reports: the radiograph questions.
    "imaging-entered-in-error": lambda: explain_left_out_only("fc-mass-undetermined", ("ImagingStudy", "DiagnosticReport")),
    # order-sign with no draft at all: the draft questions find no record.
    "order-sign-without-drafts": lambda: explain_without_drafts("fc-tendinitis-no-xr"),
    # ... and with only entered-in-error records of the kinds they read (an order, labs, imaging).
    "order-sign-without-drafts-left-out": lambda: explain_without_drafts("fc-mass-undetermined", left_out=True),
    "order-sign-without-drafts-left-out-2": lambda: explain_without_drafts("fc-tendinitis-no-xr", left_out=True),
    # A diabetic foot ulcer with every rule-out study its card suggests already ordered.
    "osteomyelitis-studies-ordered": lambda: explain_with_suggestions_ordered("fc-diabetic-ulcer", "osteomyelitis-rule-out"),
    # ... the ESR on file 72 days old, the radiograph 152 days old: the records read are all out of the window.
    "osteomyelitis-studies-ordered-results-old": lambda: explain_with_suggestions_ordered(
        "fc-diabetic-ulcer", "osteomyelitis-rule-out",
        dated={"fc-diabetic-ulcer-esr": "2027-12-20", "fc-diabetic-ulcer-xr-report": "2027-10-01"}),
}


def explain_without_drafts(patient: str, *, left_out: bool = False) -> Explained:
    """An order-sign call whose draftOrders Bundle is empty; `left_out`: the chart's records other than its
    Conditions only as entered-in-error copies, and an entered-in-error order (the draft, placed on the chart)."""
    body = _with_entered_in_error_copies(patient, "order-sign") if left_out else _build("fc", patient, "order-sign")
    if left_out:
        for value in body["prefetch"].values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                value["entry"] = [e for e in value.get("entry", []) if e["resource"]["resourceType"] == "Condition"
                                  or e["resource"]["id"].endswith("-eie")]
        order = json.loads(json.dumps(body["context"]["draftOrders"]["entry"][0]["resource"]))
        order.update(id="explain-eie-order", status="entered-in-error")
        body["prefetch"]["active-orders"].setdefault("entry", []).append({"resource": order})
        # A calcium result entered in error (fc-mass-undetermined's, on this patient's chart).
        lab = json.loads(json.dumps(_build("fc", "fc-mass-undetermined", "order-sign")["prefetch"]["lab-results"]["entry"][0]["resource"]))
        lab.update(id="explain-eie-calcium", status="entered-in-error", subject={"reference": f"Patient/{patient}"})
        body["prefetch"]["lab-results"].setdefault("entry", []).append({"resource": lab})
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    return _explain(body, "order-sign")


def explain_with_suggestions_ordered(patient: str, node_id: str, dated: dict[str, str] | None = None) -> Explained:
    """`patient` with what `node_id`'s card suggests placed on the chart as active orders; `dated`: resource
    id -> the day its result is moved to (effective and issued)."""
    body = _build("fc", patient, "patient-view")
    for value in body["prefetch"].values():
        for entry in value.get("entry", []) if isinstance(value, dict) else []:
            if (day := (dated or {}).get(entry["resource"]["id"])) is not None:
                entry["resource"].update(effectiveDateTime=f"{day}T08:00:00Z", issued=f"{day}T10:00:00Z")
    return _explain(_with_active_orders(body, _suggested_resources(_explain(body, "patient-view"), node_id)),
                    "patient-view")


# --- coverage: each node's outcomes and reasons, over every fixture explanation -----------------------

COVERAGE = Path(__file__).parent / "explain_coverage.json"


def outcome_keys(node: NodeExplanation) -> list[str]:
    """What one node's explanation shows: "outcome/why_code", and for a node that did not fire (or could not
    be decided) because of its conditions, one "outcome/why_code: reason" per reason of a condition that did
    not hold (or was unknown)."""
    keys = [f"{node.outcome}/{node.why_code}"]
    if node.why_code == "rule-not-met":
        keys += [f"{keys[0]}: {c.reason}" for r in node.rules for c in r.conditions if not c.holds]
    elif node.why_code == "data-unreadable":
        keys += [f"{keys[0]}: {c.reason}" for r in node.rules for c in r.conditions if c.answer == "unknown"]
    return keys


def possible_keys(node_id: str) -> set[str]:
    """Every "did-not-fire/rule-not-met: reason" a node's rules could show, by the kind of each question
    (pathway.questions, explain.reading): a question fails for "no-record", "left-out" or what its records
    fail ("out-of-window" also as "not-matching"); a negated one for "found". in_pathway failing stops the
    evaluation (not-reached/outside-pathway), so it adds none. An over-approximation: a reason a node's
    data can never give stays listed as not covered."""
    keys = set()
    for rule in pathway_spec().node(node_id).rules:  # type: ignore[union-attr]
        for name in (*rule.all, *rule.any):
            if name == "in_pathway":
                continue
            if name.startswith("not "):
                keys.add("found")
                continue
            reads = READS[name]
            keys |= {reads.present_but} | ({"not-matching"} if reads.present_but == "out-of-window" else set())
            # Every patient in the pathway has problems and a classification (undetermined at least): a
            # question reading one of them always lists records.
            if not ALWAYS_PRESENT.intersection(reads.facts):
                keys.add("no-record")
                if any(FIELD_TYPES.get(fact, ("Condition",)) for fact in reads.facts):
                    keys.add("left-out")  # a fact read from records (not only inferred) can have some left out
    return {f"did-not-fire/rule-not-met: {k}" for k in keys} - CANNOT_OCCUR.get(node_id, set())


ALWAYS_PRESENT = frozenset({"problems", "classification"})
# Pairs the question's kind allows but its facts cannot give (checked by reading the question).
CANNOT_OCCUR: dict[str, set[str]] = {
    # urgent_surgical_condition is "is any urgent surgical record there": a record read always counts.
    "urgent-surgery": {"did-not-fire/rule-not-met: not-matching"},
}


def _small_fixtures() -> dict[str, Explained]:
    """The cases this module adds to the fixture sets (tests below), for the coverage table."""
    off = load_pathway_config_text('[nodes.initial-radiograph]\nenabled = false\n')
    return {
        "turned-off": _explain(_build("fc", "fc-tendinitis-no-xr", "patient-view"), "patient-view", off),
        "unreadable-record": _explain(_with_unreadable_calcium(), "patient-view"),
        "lost-key": _explain_with_prefetch("fc-tendinitis-no-xr", "lab-results",
                                           {"resourceType": "Bundle", "type": "searchset", "entry": "not an array"}),
        "everything-already-ordered": explain_everything_already_ordered(),
        "nothing-left (builder replaced)": explain_nothing_left(),
        "snoozed": _snoozed_once(),
        **{name: make() for name, make in EXTRA_CASES.items()},
    }


def _snoozed_once() -> Explained:
    with tempfile.TemporaryDirectory(prefix="explain-snooze-") as folder:
        explained, _, _, store = explain_snoozed(Path(folder))
        store.close()
        store.engine.dispose()
        return explained


def load_pathway_config_text(text: str) -> PathwayConfig:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pathway.toml"
        path.write_text(text, encoding="utf-8")
        return load_pathway_config(path)


def coverage_table() -> dict[str, Any]:
    seen: dict[str, dict[str, str]] = {node.id: {} for node in pathway_spec().nodes}
    explained = [(f"{s}-{p}-{h}", _explain(_build(s, p, h), h)) for s, p, h in CASES]
    explained += [(f"small:{name}", e) for name, e in _small_fixtures().items()]
    for case, e in explained:
        for node in e.explanation.nodes:
            for key in outcome_keys(node):
                seen[node.id].setdefault(key, case)  # the first case that shows it
    return {
        node_id: {"shown": dict(sorted(shown.items())),
                  "not shown": sorted(possible_keys(node_id) - set(shown))}
        for node_id, shown in seen.items()
    }


def test_coverage_of_each_nodes_reasons_is_the_checked_in_table() -> None:
    """For each node, every outcome and reason the fixture explanations show (with the first case showing
    it), and the reasons its questions could give that no fixture shows. A lost case, or a new one, shows as
    a diff of tests/explain_coverage.json (regenerate as the expected explanations)."""
    table = coverage_table()
    text = json.dumps(table, indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("EXPLAIN_REGENERATE"):
        COVERAGE.write_text(text, encoding="utf-8")
    assert text == COVERAGE.read_text(encoding="utf-8")
    for node_id, row in table.items():
        shown = row["shown"]
        # Every node is shown outside the pathway, for a deceased patient, and fired somewhere.
        assert {"not-reached/outside-pathway", "not-reached/deceased", "fired/rule-met"} <= set(shown), node_id
        reasons = {k for k in shown if k.startswith("did-not-fire/rule-not-met: ")}
        assert reasons <= possible_keys(node_id), (node_id, reasons - possible_keys(node_id))


def test_a_node_turned_off_is_not_reached_and_carried_by_no_card(tmp_path: Path) -> None:
    path = tmp_path / "pathway.toml"
    path.write_text('[nodes.initial-radiograph]\nenabled = false\n', encoding="utf-8")
    config = load_pathway_config(path)
    explained = _explain(_build("fc", "fc-tendinitis-no-xr", "patient-view"), "patient-view", config)
    node = next(n for n in explained.explanation.nodes if n.id == "initial-radiograph")
    assert (node.outcome, node.why_code, node.card) == ("not-reached", "turned-off", None)
    assert node.rules[0].fired  # its rule held: the setting hid the card, not the rule
    assert not one_evaluation_problems(explained)


def _with_unreadable_calcium() -> JSON:
    body = _build("fc", "fc-tendinitis-no-xr", "patient-view")
    bad = {"resourceType": "Observation", "id": "explain-unreadable", "status": 7, "code": {"text": "Calcium"}}
    body["prefetch"]["lab-results"].setdefault("entry", []).append({"resource": bad})
    return body


def test_an_unreadable_record_leaves_a_node_undecided_not_quietly_no() -> None:
    body = _with_unreadable_calcium()
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


def _suggested_resources(explained: Explained, node_id: str) -> list[JSON]:
    """The resources the card carrying `node_id` would create (its suggestions' create actions)."""
    card = next(c for c in explained.evaluation.response["cards"] if node_id in carried_nodes(c))
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"]
            if a.get("type") == "create" and a.get("resource")]


def _with_active_orders(body: JSON, orders: list[JSON]) -> JSON:
    """`body` with `orders` placed on the chart as active ServiceRequests (as the EHR's active-orders key)."""
    body = json.loads(json.dumps(body))
    entries = body["prefetch"]["active-orders"].setdefault("entry", [])
    for i, order in enumerate(orders):
        entries.append({"resource": {**order, "id": f"explain-ordered-{i}", "status": "active", "intent": "order"}})
    return body


def explain_everything_already_ordered() -> Explained:
    """fc-mass-undetermined (metabolic work-up card) with every test that card suggests already ordered."""
    body = _build("fc", "fc-mass-undetermined", "patient-view")
    ordered = _suggested_resources(_explain(body, "patient-view"), "metabolic-workup")
    assert len(ordered) == 3  # phosphate, PTH, renal function: calcium is resulted
    return _explain(_with_active_orders(body, ordered), "patient-view")


def test_every_suggested_test_already_ordered_is_the_rules_no_not_an_empty_card() -> None:
    """The shipped rules ask first whether anything is left to order (metabolic_lab_missing): with every test
    the card would suggest already ordered, the rule itself does not hold, and the explanation shows the
    orders it read."""
    explained = explain_everything_already_ordered()
    node = next(n for n in explained.explanation.nodes if n.id == "metabolic-workup")
    assert (node.outcome, node.why_code, node.card) == ("did-not-fire", "rule-not-met", None)
    missing = next(c for c in node.rules[0].conditions if c.condition == "metabolic_lab_missing")
    assert (missing.answer, missing.holds) == ("no", False)
    assert {f"ServiceRequest/explain-ordered-{i}" for i in range(3)} <= {r.reference for r in missing.records}
    assert not one_evaluation_problems(explained)


def explain_nothing_left() -> Explained:
    from cds_service.pathway import evaluate as evaluate_module

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(evaluate_module.BUILDERS, "metabolic-workup", lambda ctx: None)
        return _explain(_build("fc", "fc-mass-undetermined", "patient-view"), "patient-view")


def test_a_rule_that_holds_with_nothing_left_to_suggest_did_not_fire() -> None:
    """"Did not fire: the rule held but nothing was left to suggest" is a builder answering None after its
    rule held. With the shipped rules no record reaches it (each builder's None mirrors a condition of its
    own rule: the test above), so the builder is replaced here by one that finds nothing left, on the chart
    whose rule holds (fc-mass-undetermined: phosphate, PTH and renal function missing)."""
    explained = explain_nothing_left()
    node = next(n for n in explained.explanation.nodes if n.id == "metabolic-workup")
    assert (node.outcome, node.why_code, node.card) == ("did-not-fire", "nothing-left-to-suggest", None)
    assert [r.rule for r in node.rules if r.fired] == ["missing-tests"]  # the rule held
    assert "nothing was left" in node.why
    assert not one_evaluation_problems(explained)


def _explain_with_prefetch(patient: str, key: str, value: Any) -> Explained:
    body = _build("fc", patient, "patient-view")
    body["prefetch"][key] = value
    return _explain(body, "patient-view")


@pytest.mark.parametrize(("value", "where"), [
    ({"resourceType": "Bundle", "type": "searchset", "entry": "not an array"}, "prefetch.lab-results"),
    ({"resourceType": "Bundle", "type": "searchset", "entry": [7]}, "prefetch.lab-results.entry[0]"),
    ({"resourceType": "Bundle", "type": "searchset", "entry": [{"fullUrl": "urn:uuid:x"}]}, "prefetch.lab-results.entry[0]"),
], ids=["bundle-left-out", "entry-not-an-object", "entry-without-resource"])
def test_a_lost_key_or_entry_naming_no_resource_leaves_its_types_questions_undecided(value: JSON, where: str) -> None:
    """A data issue without a `Type/id` (the whole Bundle of a prefetch key, or an entry with no resource)
    counts for the questions that read that key's resource type (lab-results: Observation)."""
    explained = _explain_with_prefetch("fc-tendinitis-no-xr", "lab-results", value)
    e = explained.explanation
    assert [i["where"] for i in e.data_issues] == [where] and "resource" not in e.data_issues[0]
    node = next(n for n in e.nodes if n.id == "metabolic-cause")
    assert (node.outcome, node.why_code) == ("could-not-be-decided", "data-unreadable")
    condition = next(c for c in node.rules[0].conditions if c.condition == "metabolic_abnormality")
    assert (condition.answer, condition.reason, condition.left_out) == ("unknown", "left-out", [where])
    fhir = guidance_response(e, request_id="x", patient_id="fc-tendinitis-no-xr")
    assert fhir["status"] == "data-required" and {"type": "Observation"} in fhir["dataRequirement"]
    assert all("prefetch" not in str(r) for r in fhir["dataRequirement"])
    # A question that reads no Observation is answered as before.
    dfi = next(n for n in e.nodes if n.id == "dfi-reassessment")
    assert (dfi.outcome, dfi.why_code) == ("did-not-fire", "rule-not-met")
    assert not one_evaluation_problems(explained)


def test_which_type_a_data_issue_costs() -> None:
    from cds_service.explain.build import issue_type
    from cds_service.gathering.gather import REFETCHED, UNDATED

    assert issue_type({"where": "prefetch.lab-results.entry[3]", "resource": "Condition/c1", "problem": "x"}) == "Condition"
    assert issue_type({"where": "prefetch.imaging-reports-2.entry[0]", "problem": "has no resource; left out"}) == "DiagnosticReport"
    assert issue_type({"where": f"fhirServer.imaging-studies{UNDATED}", "problem": "refused"}) == "ImagingStudy"
    assert issue_type({"where": "fhirServer.procedures.page[2]", "problem": "x"}) == "Procedure"
    # A prefetch value that was not FHIR was fetched from the FHIR server instead: nothing was lost.
    assert issue_type({"where": "prefetch.conditions", "problem": f"not a Bundle; {REFETCHED}"}) is None
    assert issue_type({"where": "context.draftOrders.entry[0]", "problem": "x"}) is None


def _snooze_rows(store: Any) -> dict[str, list[tuple]]:
    from sqlalchemy import select

    from cds_service.store.models import CardEvidence, Snooze, SnoozedCard

    store.flush()
    with store.engine.connect() as connection:
        return {m.__tablename__: sorted(tuple(r) for r in connection.execute(select(m)).all())
                for m in (CardEvidence, Snooze, SnoozedCard)}


def explain_snoozed(folder: Path) -> tuple[Explained, dict[str, list[tuple]], dict[str, list[tuple]], Any]:
    """fc-tendinitis-no-xr's initial-radiograph card overridden earlier (a snooze row in a real SQLite store,
    inserted as `SnoozeStore.record_overrides` inserts it: with the card evidence the hook call recorded), then explained. Returns
    the explanation, the snooze tables before and after it, and the store."""
    from datetime import datetime, timezone

    from sqlalchemy import create_engine, insert, select

    from cds_service.snooze import SnoozeGate
    from cds_service.store.models import Base, CardEvidence, Snooze
    from cds_service.store.snooze import SnoozeStore

    engine = create_engine(f"sqlite:///{folder / 'snooze.db'}")
    Base.metadata.create_all(engine)
    store = SnoozeStore(engine, patient_hash_key=b"k" * 32)
    config = load_pathway_config()

    def snoozing_call() -> Invocation:
        return replace(_call("patient-view", config), snooze=SnoozeGate(store, config))

    body = _build("fc", "fc-tendinitis-no-xr", "patient-view")
    asyncio.run(invoke(snoozing_call(), body, today=TODAY))  # the hook call: records each card's evidence
    store.flush()
    with engine.begin() as connection:
        evidence = connection.execute(select(CardEvidence.evidence).where(
            CardEvidence.hook_instance == body["hookInstance"], CardEvidence.node_id == "initial-radiograph")).scalar_one()
        connection.execute(insert(Snooze), [{"card_uuid": "overridden-card", "node_id": "initial-radiograph",
                                             "patient_hash": store.patient_hash("fc-tendinitis-no-xr"),
                                             "evidence": evidence, "created_at": datetime.now(timezone.utc)}])
    before = _snooze_rows(store)
    again = _build("fc", "fc-tendinitis-no-xr", "patient-view")
    again["hookInstance"] = "c0a80001-0000-4000-8000-00000000e2e1"  # a new chart opening
    explained = asyncio.run(explain_call(snoozing_call(), again, today=TODAY))
    return explained, before, _snooze_rows(store), store


def test_a_node_snoozed_after_an_override_is_not_reached_and_the_store_is_unchanged(tmp_path: Path) -> None:
    explained, before, after, store = explain_snoozed(tmp_path)
    node = next(n for n in explained.explanation.nodes if n.id == "initial-radiograph")
    assert (node.outcome, node.why_code, node.card) == ("not-reached", "snoozed", None)
    assert node.rules[0].fired  # the rule held: the snooze hid the card
    assert not one_evaluation_problems(explained)
    assert before["snoozes"] and before["card_evidence"] and after == before  # explaining wrote nothing
    store.close()


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
    """Both sets on the session server (paged at PAGE_SIZE), the EHR set's big charts on one of their own."""
    with both_sets_served(fhir_server, TODAY, PAGE_SIZE) as server_of:
        yield {(s, p): server_of[p] for s, p, _ in CASES}


@pytest.fixture(scope="module")
def client() -> Iterator[FhirClient]:
    with scanning_server_client() as fhir:
        yield fhir


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
