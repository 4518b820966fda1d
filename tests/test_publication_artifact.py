"""Issue 20: the pathway's CPG-on-FHIR artifact, generated from nodes.toml, the value sets, the prefetch
templates and the local configuration, checked against the FHIR R4 definitions and the CPG/CRMI profiles
kept in tests/fhir_definitions."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from cds_service.guideline.config import load_pathway_config
from cds_service.guideline.nodes import pathway_spec
from cds_service.guideline.valuesets import orderable
from cds_service.publication.artifact import (
    LIBRARY_ID,
    PATHWAY_ID,
    QUESTION_LANGUAGE,
    STRATEGY_ID,
    Artifact,
    build_artifact,
    serialise,
)
from cds_service.services import discovery_document, prefetch_templates
from cds_service.tools.pathway_export import artifact_files
from tests.support.fhir_profiles import check_profiles, unread_rules
from tests.support.fhir_validation import validate

JSON = dict[str, Any]
REPO = Path(__file__).resolve().parents[1]
CHECKED_IN = REPO / "cpg"
METADATA = ("url", "version", "name", "title", "status", "experimental", "publisher", "description", "date")
# Every invariant of severity error the kept StructureDefinitions declare on what the artifact uses.
EXPECTED_INVARIANTS = {"exp-1", "ext-1", "ele-1", "dom-2", "dom-3", "dom-4", "dom-5", "trd-1", "trd-2", "trd-3",
                       "drq-1", "bdl-1", "bdl-2", "bdl-3", "bdl-4", "bdl-7", "bdl-9", "bdl-10", "bdl-11", "bdl-12"}


@pytest.fixture(scope="module")
def artifact() -> Artifact:
    return build_artifact()


def _actions(actions: list[JSON]) -> list[JSON]:
    found = []
    for action in actions:
        found.append(action)
        found += _actions(action.get("action", []))
    return found


def _canonicals(value: Any) -> list[str]:
    """Every definitionCanonical, library, instantiatesCanonical and valueCanonical (cpg-partOf) inside."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("definitionCanonical", "valueCanonical"):
                found.append(item)
            elif key in ("library", "instantiatesCanonical"):
                found += item
            else:
                found += _canonicals(item)
    elif isinstance(value, list):
        for item in value:
            found += _canonicals(item)
    return found


def _question_names(expression: str) -> set[str]:
    without_hooks = re.sub(r"hook in \([^)]*\)", " ", expression)
    return set(re.findall(r"[a-z_]+", without_hooks)) - {"and", "or", "not"}


def test_shape_one_plan_per_node_action_id_is_the_node_id(artifact: Artifact) -> None:
    spec = pathway_spec()
    ids = [plan["id"] for plan in artifact.plan_definitions]
    assert ids == [PATHWAY_ID, STRATEGY_ID, *(node.id for node in spec.nodes)]
    for node in spec.nodes:
        plan = artifact.find("PlanDefinition", node.id)
        assert plan["type"]["coding"][0]["code"] == "eca-rule"
        assert plan["action"][0]["id"] == node.id
        children = [a["definitionCanonical"].split("|")[0].rsplit("/", 1)[1] for a in plan["action"][0].get("action", [])]
        assert children == list(node.orderables)
    strategy = artifact.find("PlanDefinition", STRATEGY_ID)
    assert [a["id"] for a in strategy["action"]] == [node.id for node in spec.nodes]
    assert artifact.find("PlanDefinition", PATHWAY_ID)["type"]["coding"][0]["code"] == "clinical-protocol"


def test_every_artifact_carries_its_metadata_and_profiles(artifact: Artifact) -> None:
    for resource in artifact.resources:
        missing = [key for key in METADATA if resource.get(key) in (None, "")]
        assert not missing, (resource["id"], missing)
        assert resource["meta"]["profile"], resource["id"]
        assert resource["version"] == artifact.version == "0.1.0"
        assert resource["url"].endswith(f"/{resource['resourceType']}/{resource['id']}")


def test_every_action_has_title_description_code_trigger_and_a_named_question_condition(artifact: Artifact) -> None:
    questions = {q.removeprefix("not ").strip() for node in pathway_spec().nodes for rule in node.rules
                 for q in (*rule.all, *rule.any)}
    library = artifact.find("Library", LIBRARY_ID)
    assert {p["name"] for p in library["parameter"]} == questions
    checked = 0
    for plan in artifact.plan_definitions:
        for action in _actions(plan["action"]):
            for key in ("title", "description", "code", "trigger", "condition"):
                assert action.get(key), (plan["id"], action["id"], key)
            assert {t["type"] for t in action["trigger"]} == {"named-event"}
            assert {t["name"] for t in action["trigger"]} <= {"patient-view", "order-select", "order-sign"}
            for condition in action["condition"]:
                expression = condition["expression"]
                assert condition["kind"] == "applicability"
                assert expression["language"] == QUESTION_LANGUAGE
                names = _question_names(expression["expression"])
                assert names and names <= questions, (action["id"], names - questions)
            checked += 1
    assert checked > len(pathway_spec().nodes) * 2


def test_node_conditions_are_the_rules_of_nodes_toml(artifact: Artifact) -> None:
    for node in pathway_spec().nodes:
        action = artifact.find("PlanDefinition", node.id)["action"][0]
        expression = action["condition"][0]["expression"]["expression"]
        for rule in node.rules:
            for question in (*rule.all, *rule.any):
                assert question in expression, (node.id, question)
            assert f"hook in ({', '.join(repr(h) for h in rule.hooks)})" in expression
        assert [t["name"] for t in action["trigger"]] == list(node.hooks)


def test_every_canonical_resolves_inside_the_artifact(artifact: Artifact) -> None:
    references = [c for resource in artifact.resources for c in _canonicals(resource)]
    assert len(references) > 50
    unresolved = [c for c in references if artifact.by_url(c) is None]
    assert not unresolved
    assert all(c.endswith(f"|{artifact.version}") for c in references)


def test_activity_definitions_are_the_orderables_with_their_codes(artifact: Artifact) -> None:
    names = list(dict.fromkeys(o for node in pathway_spec().nodes for o in node.orderables))
    assert [a["id"] for a in artifact.activity_definitions] == names
    for activity in artifact.activity_definitions:
        item = orderable(activity["id"])
        assert (activity["kind"], activity["intent"]) == ("ServiceRequest", "proposal")
        assert activity["code"] == item.codeable_concept()


def test_library_data_requirements_reproduce_the_prefetch_templates(artifact: Artifact, client: Any) -> None:
    library = artifact.find("Library", LIBRARY_ID)
    patterns = [(r["id"], r["extension"][0]["valueString"]) for r in library["dataRequirement"]]
    assert patterns == list(prefetch_templates())
    assert all(r["extension"][0]["url"] == "http://hl7.org/fhir/StructureDefinition/cqf-fhirQueryPattern"
               for r in library["dataRequirement"])
    for service in client.get("/cds-services").json()["services"]:
        assert dict(patterns) == service["prefetch"]
    assert [s["prefetch"] for s in discovery_document()["services"]][0] == dict(patterns)
    # Code filters say the same codes as the query.
    for requirement, (_, template) in zip(library["dataRequirement"], prefetch_templates(), strict=True):
        assert requirement["type"] == template.split("?")[0].split("/")[0]
        for code_filter in requirement.get("codeFilter", []):
            for coding in code_filter["code"]:
                assert coding["code"] in template


def test_every_seed_sentence_appears_in_exactly_the_actions_that_cite_it(artifact: Artifact) -> None:
    spec = pathway_spec()
    quotes = {seed.quote for node in spec.nodes for seed in node.seeds}
    for quote in quotes:
        citing = {node.id for node in spec.nodes if any(seed.quote == quote for seed in node.seeds)}
        # As a quotation (a short one, "Suspected malignancy", is also words of a title).
        quoted = f"\u201c{quote}\u201d"
        in_actions = {
            (plan["id"], action["id"])
            for plan in artifact.plan_definitions
            for action in _actions(plan["action"])
            if quoted in json.dumps({k: v for k, v in action.items() if k != "action"}, ensure_ascii=False)
        }
        assert in_actions == {(node_id, node_id) for node_id in citing}, quote
        cited_by = {
            (plan["id"], action["id"])
            for plan in artifact.plan_definitions
            for action in _actions(plan["action"])
            for doc in action.get("documentation", [])
            if doc["type"] == "citation" and quote in doc["citation"]
        }
        assert cited_by == in_actions
        resources = {r["id"] for r in artifact.resources if quoted in json.dumps(r, ensure_ascii=False)}
        assert resources == citing, quote


def test_rationale_names_rules_and_local_defaults(artifact: Artifact) -> None:
    for node in pathway_spec().nodes:
        action = artifact.find("PlanDefinition", node.id)["action"][0]
        rationale = next(e["valueMarkdown"] for e in action["extension"]
                         if e["url"].endswith("/cpg-rationale"))
        for rule in node.rules:
            assert rule.trigger in rationale
        for default in node.local_defaults:
            assert default.text in rationale


def test_regeneration_is_byte_identical_and_the_checked_in_copy_matches() -> None:
    first, second = artifact_files(), artifact_files()
    assert first == second
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in sorted(CHECKED_IN.glob("*.json"))}
    assert sorted(on_disk) == sorted(first), "re-run: cds-service pathway export --fhir cpg"
    drifted = [name for name in first if on_disk[name] != first[name]]
    assert not drifted, f"{drifted}: re-run `cds-service pathway export --fhir cpg`"


def test_a_local_configuration_changes_the_version_visibly(tmp_path: Path) -> None:
    path = tmp_path / "pathway.toml"
    path.write_text(
        "imaging_lookback_days = 60\n"
        "[nodes.conservative-care]\nenabled = false\n"
        "[nodes.differential-diagnosis]\nindicator = \"warning\"\n"
        "[orderables.xr-foot-3-views]\nsystem = \"http://hospital.example.org/order-catalog\"\n"
        "code = \"RAD-0042\"\ndisplay = \"XR foot, 3 views\"\n",
        encoding="utf-8",
    )
    local = build_artifact(load_pathway_config(path))
    packaged = build_artifact()
    assert local.version.startswith(f"{packaged.version}-local.") and len(local.version) > len(packaged.version) + 7
    assert all(r["version"] == local.version for r in local.resources)
    assert all(c.endswith(f"|{local.version}") and local.by_url(c) for r in local.resources for c in _canonicals(r))
    pathway = local.find("PlanDefinition", PATHWAY_ID)
    assert "setting imaging_lookback_days = 60" in pathway["description"]
    assert "node conservative-care: turned off" in pathway["description"]
    off = local.find("PlanDefinition", "conservative-care")
    assert {"url": "http://hl7.org/fhir/uv/cpg/StructureDefinition/cpg-enabled", "valueBoolean": False} in off["extension"]
    assert local.find("PlanDefinition", "differential-diagnosis")["action"][0]["priority"] == "urgent"
    codes = local.find("ActivityDefinition", "xr-foot-3-views")["code"]["coding"]
    assert [c["code"] for c in codes] == ["36305-1", "RAD-0042"]
    rationale = local.find("PlanDefinition", "initial-radiograph")["action"][0]["extension"][0]["valueMarkdown"]
    assert "(this configuration: imaging_lookback_days = 60)" in rationale
    assert [validate(r).errors for r in local.resources] == [[] for _ in local.resources]


def test_parses_and_reserialises_with_fhir_resources_equal_json(artifact: Artifact) -> None:
    # fhir.resources 8 has no R4 (4.0.1) package: R4B is what the project validates with; the R4 elements
    # used here are the same in R4B. The FHIRPath checks below use the R4 definitions themselves.
    for resource in (*artifact.resources, artifact.bundle()):
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert model.model_dump(mode="json", exclude_none=True) == resource, resource["id"]


def test_base_r4_invariants_cardinalities_and_required_bindings_hold(artifact: Artifact) -> None:
    report = validate(artifact.bundle())
    assert report.errors == []
    assert report.skipped == set()
    assert EXPECTED_INVARIANTS <= report.evaluated


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda p: p["action"][0]["condition"][0]["expression"].pop("expression"), "exp-1 violated"),
        (lambda p: p["action"][0]["condition"][0].update(kind="bogus"), "not in required value set"),
        (lambda p: p.pop("status"), "PlanDefinition.status: min 1"),
        (lambda p: p["extension"][0].update(extension=[{"url": "x", "valueString": "y"}]), "ext-1 violated"),
        (lambda p: p.update(unknownThing=1), "unknown element"),
    ],
)
def test_the_validator_catches_what_it_checks(artifact: Artifact, break_it: Any, expected: str) -> None:
    plan = copy.deepcopy(artifact.find("PlanDefinition", "initial-radiograph"))
    break_it(plan)
    assert any(expected in error for error in validate(plan).errors)


def test_cpg_and_crmi_profile_rules_hold(artifact: Artifact) -> None:
    problems = [p for resource in artifact.resources for p in check_profiles(resource, artifact.by_url)]
    assert problems == []
    # The FSH rules not read are Must Support flags, non-required bindings, metadata inserts and optional
    # extension slices: none constrains presence.
    allowed = re.compile(r"(MS$|\((extensible|preferred)\)$|only CodeableConcept MS$|only CodeableConcept$|"
                         r"\* insert |extension contains$|\* \w+(\[x\])?$)")
    assert [line for line in unread_rules() if not allowed.search(line)] == []


def test_profile_checker_catches_a_missing_required_element(artifact: Artifact) -> None:
    pathway = copy.deepcopy(artifact.find("PlanDefinition", PATHWAY_ID))
    del pathway["action"][0]["code"]
    pathway["action"][0]["definitionCanonical"] = artifact.find("ActivityDefinition", "lab-esr")["url"]
    problems = check_profiles(pathway, artifact.by_url)
    assert any("action.code has 0" in p for p in problems)
    assert any("is not one of" in p for p in problems)
    del pathway["version"]
    assert any("version has 0" in p for p in check_profiles(pathway, artifact.by_url))


def test_serialisation_is_stable(artifact: Artifact) -> None:
    text = serialise(artifact.bundle())
    assert text == serialise(json.loads(text)) and text.endswith("\n")
