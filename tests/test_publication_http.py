"""Issue 20: `/fhir/...` serves the artifact, and `PlanDefinition/$apply` answers, for every fixture patient of
both fixture sets, a RequestGroup whose actions are exactly the hook's cards and suggestions."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from cds_service.cli import main
from cds_service.publication.artifact import BUNDLE_ID, LIBRARY_ID, PATHWAY_ID, build_artifact
from cds_service.publication.urls import plan_definition_url
from cds_service.tools.pathway_export import artifact_files
from fhir_fixtures import catalog as fixtures
from fhir_fixtures.ehr import catalog as ehr
from fhir_fixtures.hook_requests import build_request
from tests.support.auth_tokens import EHR_ISS, es384_key, write_clients
from tests.support.fhir_validation import validate

JSON = dict[str, Any]
TODAY = date.today()  # the hook and $apply both evaluate today (they take no evaluation date)
APPLY = f"/fhir/PlanDefinition/{PATHWAY_ID}/$apply"
PATIENTS = [("fixtures", p) for p in fixtures.PATIENTS] + [("ehr", p) for p in ehr.PATIENTS]


def _record(source: str, patient: str, hook: str) -> JSON:
    """The patient's record as a collection Bundle (and, for an order hook, the draft orders in it)."""
    catalog = fixtures if source == "fixtures" else ehr
    resources = catalog.resources(patient)
    if hook != "patient-view":
        resources = resources + catalog.drafts(patient)[hook]["draftOrders"]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _parameters(patient: str, bundle: JSON, **extra: JSON) -> JSON:
    parameters = [{"name": "subject", "valueString": f"Patient/{patient}"}, {"name": "data", "resource": bundle}]
    parameters += [{"name": name, **value} for name, value in extra.items()]
    return {"resourceType": "Parameters", "parameter": parameters}


def _card_view(cards: list[JSON]) -> list[tuple[Any, ...]]:
    return [
        (
            card["source"]["topic"]["code"], card["summary"], card["detail"],
            tuple(
                (s["label"], tuple((a["type"], (a.get("resource") or {}).get("code"), a.get("resourceId"))
                                   for a in s["actions"]))
                for s in card.get("suggestions", [])
            ),
        )
        for card in cards
    ]


def _plan_view(plan: JSON) -> list[tuple[Any, ...]]:
    contained = {r["id"]: r for r in plan["contained"]}
    group = contained["request-group"]
    kinds = {"create": "create", "update": "update", "remove": "delete"}
    view = []
    for action in group.get("action", []):
        suggestions = []
        for child in action.get("action", []):
            steps = []
            for step in child["action"]:
                reference = step["resource"]["reference"]
                resource = contained.get(reference.removeprefix("#")) if reference.startswith("#") else None
                steps.append((kinds[step["type"]["coding"][0]["code"]], (resource or {}).get("code"),
                              None if resource else reference))
            suggestions.append((child["title"], tuple(steps)))
        view.append((action["id"], action["title"], action["description"], tuple(suggestions)))
    return view


def test_read_search_and_bundle(client: Any) -> None:
    artifact = build_artifact()
    plans = client.get("/fhir/PlanDefinition")
    assert plans.status_code == 200 and plans.headers["content-type"] == "application/fhir+json"
    body = plans.json()
    assert body["type"] == "searchset" and body["total"] == len(artifact.plan_definitions)
    assert [e["resource"] for e in body["entry"]] == list(artifact.plan_definitions)
    assert body["entry"][2]["fullUrl"] == plan_definition_url("http://testserver", "initial-radiograph")
    for resource in artifact.resources:
        read = client.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
        assert read.status_code == 200 and read.json() == resource
    by_url = client.get("/fhir/ActivityDefinition", params={"url": artifact.activity_definitions[0]["url"]}).json()
    assert [e["resource"]["id"] for e in by_url["entry"]] == [artifact.activity_definitions[0]["id"]]
    assert client.get("/fhir/Library").json()["entry"][0]["resource"]["id"] == LIBRARY_ID
    bundle = client.get(f"/fhir/Bundle/{BUNDLE_ID}")
    assert bundle.status_code == 200 and bundle.json() == artifact.bundle()


@pytest.mark.parametrize("path", ["/fhir/PlanDefinition/nope", "/fhir/ActivityDefinition/initial-radiograph",
                                  "/fhir/Library/nope", "/fhir/Bundle/nope"])
def test_unknown_ids_are_404_operation_outcomes(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "not-found"
    assert validate(outcome).errors == []


def test_the_served_artifact_is_the_deployments_configuration(make_client: Any, tmp_path: Path) -> None:
    config = tmp_path / "pathway.toml"
    config.write_text("[nodes.conservative-care]\nenabled = false\n", encoding="utf-8")
    client = make_client(pathway_config=config)
    served = client.get(f"/fhir/PlanDefinition/{PATHWAY_ID}").json()
    assert served["version"].startswith("0.1.0-local.")
    assert "node conservative-care: turned off" in served["description"]
    hit = client.get("/fhir/PlanDefinition", params={"url": served["url"], "version": "0.1.0"}).json()
    assert hit["total"] == 0  # the packaged version is not what this deployment serves


def test_unsupported_search_parameter_is_400(client: Any) -> None:
    response = client.get("/fhir/PlanDefinition", params={"title": "x"})
    assert response.status_code == 400 and "title" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(("source", "patient"), PATIENTS)
def test_apply_equals_the_hook_for_every_fixture_patient(client: Any, source: str, patient: str) -> None:
    build = build_request if source == "fixtures" else ehr.build_request
    hook = client.post("/cds-services/foot-calcification-patient-view", json=build(patient, "patient-view", TODAY))
    assert hook.status_code == 200
    applied = client.post(APPLY, json=_parameters(patient, _record(source, patient, "patient-view")))
    assert applied.status_code == 200, applied.text
    plan = applied.json()
    assert _plan_view(plan) == _card_view(hook.json()["cards"])
    _check_plan(plan, patient)


@pytest.mark.parametrize(("source", "patient"), PATIENTS)
def test_apply_at_order_sign_equals_the_hook(client: Any, source: str, patient: str) -> None:
    build = build_request if source == "fixtures" else ehr.build_request
    hook = client.post("/cds-services/foot-calcification-order-sign", json=build(patient, "order-sign", TODAY))
    assert hook.status_code == 200
    applied = client.post(APPLY, json=_parameters(patient, _record(source, patient, "order-sign"),
                                                  hook={"valueCode": "order-sign"}))
    assert applied.status_code == 200, applied.text
    assert _plan_view(applied.json()) == _card_view(hook.json()["cards"])
    _check_plan(applied.json(), patient)


def _check_plan(plan: JSON, patient: str) -> None:
    artifact = build_artifact()
    assert plan["subject"] == {"reference": f"Patient/{patient}"}
    assert plan["instantiatesCanonical"] == [f"{artifact.find('PlanDefinition', PATHWAY_ID)['url']}|{artifact.version}"]
    for resource in plan["contained"]:
        if resource["resourceType"] == "ServiceRequest" and resource["status"] == "draft" and "instantiatesCanonical" in resource:
            (canonical,) = resource["instantiatesCanonical"]
            activity = artifact.by_url(canonical)
            assert activity is not None and activity["resourceType"] == "ActivityDefinition"
            assert any(c in resource["code"].get("coding", []) for c in activity["code"].get("coding", [])) or \
                resource["code"]["text"] == activity["code"]["text"]
    created = [r for r in plan["contained"] if r["resourceType"] == "ServiceRequest" and r["id"].count("-") == 4
               and r.get("intent") == "proposal"]
    assert all("instantiatesCanonical" in r for r in created)
    report = validate(plan)
    assert report.errors == [] and report.skipped == set()
    expected = {"dom-2", "dom-3", "ref-1"} | ({"rqg-1"} if plan["contained"][0].get("action") else set())
    assert expected <= report.evaluated
    model = get_fhir_model_class("CarePlan").model_validate(plan)
    assert model.model_dump(mode="json", exclude_none=True) == plan


def test_supporting_info_points_to_the_records_the_card_shows(client: Any) -> None:
    patient = "fc-ckd-metastatic"
    bundle = _record("fixtures", patient, "patient-view")
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    plan = client.post(APPLY, json=_parameters(patient, bundle)).json()
    requests = [r for r in plan["contained"] if r["resourceType"] == "ServiceRequest"]
    assert requests and all(r.get("supportingInfo") for r in requests)
    for request in requests:
        assert {s["reference"] for s in request["supportingInfo"]} <= ids


def test_apply_on_a_node_keeps_only_that_node(client: Any) -> None:
    patient = "fc-ckd-metastatic"
    whole = client.post(APPLY, json=_parameters(patient, _record("fixtures", patient, "patient-view"))).json()
    node = client.post("/fhir/PlanDefinition/metabolic-cause/$apply",
                       json=_parameters(patient, _record("fixtures", patient, "patient-view"))).json()
    assert [a["id"] for a in node["contained"][0]["action"]] == ["metabolic-cause"]
    assert "metabolic-cause" in [a["id"] for a in whole["contained"][0]["action"]]
    assert node["instantiatesCanonical"][0].split("|")[0].endswith("/PlanDefinition/metabolic-cause")


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"resourceType": "Patient"}, "Parameters"),
        ({"resourceType": "Parameters"}, "'subject' is required"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Patient/p"}]}, "'data'"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Encounter/e"},
                                                       {"name": "data", "resource": {"resourceType": "Bundle"}}]},
         "'subject' must reference a Patient"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Patient/p"},
                                                       {"name": "data", "resource": {"resourceType": "Bundle", "type": "collection"}}]},
         "parameter 'data'"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Patient/p"},
                                                       {"name": "useServerData", "valueBoolean": True}]},
         "'useServerData' is not supported"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Patient/p"},
                                                       {"name": "hook", "valueCode": "encounter-start"}]},
         "'hook' must be one of"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Patient/p"},
                                                       {"name": "dataEndpoint", "resource": {"resourceType": "Endpoint"}}]},
         "Endpoint.address is missing"),
        ({"resourceType": "Parameters", "parameter": [{"name": "subject", "valueString": "Patient/p"},
                                                       {"name": "dataEndpoint", "valueUrl": "ftp://x"}]},
         "http:// or https://"),
    ],
)
def test_bad_parameters_are_400_naming_the_problem(client: Any, parameters: JSON, named: str) -> None:
    response = client.post(APPLY, json=parameters)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert named in outcome["issue"][0]["diagnostics"]


def test_apply_on_an_unknown_plan_and_a_body_that_is_not_json(client: Any) -> None:
    assert client.post("/fhir/PlanDefinition/nope/$apply", json={}).status_code == 404
    response = client.post(APPLY, content=b"{not json", headers={"Content-Type": "application/fhir+json"})
    assert response.status_code in (400, 415)
    if response.status_code == 400:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_apply_needs_the_hooks_authentication_and_reads_do_not(make_client: Any, tmp_path: Path) -> None:
    clients = write_clients(tmp_path / "clients.json", [{"iss": EHR_ISS, "jwks": {"keys": [es384_key().public_jwk()]}}])
    client = make_client(auth_mode="required", trusted_clients=clients)
    patient = "fc-ckd-metastatic"
    response = client.post(APPLY, json=_parameters(patient, _record("fixtures", patient, "patient-view")))
    assert response.status_code == 401
    assert client.get(f"/fhir/PlanDefinition/{PATHWAY_ID}").status_code == 200  # the artifact holds no patient data


def test_the_export_command_writes_the_artifact(tmp_path: Path) -> None:
    out = tmp_path / "cpg"
    (out).mkdir()
    (out / "PlanDefinition-gone.json").write_text("{}", encoding="utf-8")
    assert main(["pathway", "export", "--fhir", str(out)]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.json")}
    assert written == artifact_files()
    assert f"Bundle-{BUNDLE_ID}.json" in written


def test_export_refuses_a_bad_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("imaging_lookback_days = -3\n", encoding="utf-8")
    assert main(["pathway", "export", "--fhir", str(tmp_path / "out"), "--config", str(config)]) == 2
    assert "imaging_lookback_days" in capsys.readouterr().err


def test_a_data_issue_is_said_in_the_plan(client: Any) -> None:
    patient = "fc-ckd-metastatic"
    bundle = copy.deepcopy(_record("fixtures", patient, "patient-view"))
    bundle["entry"].append({"resource": {"resourceType": "Observation", "id": "broken", "status": "final",
                                         "subject": {"reference": f"Patient/{patient}"},
                                         "code": {"coding": [{"system": "http://loinc.org", "code": "17861-6"}]},
                                         "effectiveDateTime": "not a date", "valueQuantity": {"value": "x"}}})
    plan = client.post(APPLY, json=_parameters(patient, bundle)).json()
    outcome = next((r for r in plan["contained"] if r["resourceType"] == "OperationOutcome"), None)
    assert outcome is not None and plan["supportingInfo"] == [{"reference": "#data-issues"}]
    assert any("broken" in issue["diagnostics"] for issue in outcome["issue"])
