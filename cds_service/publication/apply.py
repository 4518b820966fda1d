"""`PlanDefinition/$apply`: a Parameters resource in, the hook evaluation's cards out as a CarePlan.

The operation builds the CDS Hooks request a hook call would carry (`hook_request`: the record from the
`data` Bundle answers every prefetch key, through the same search code the `evaluate` tool uses; or a FHIR
server the caller names, which the service then queries itself) and the route runs it through
`cds_service.invocation.evaluate_call`, the very evaluation of the hooks. `care_plan` turns the cards into
FHIR R4: a CarePlan that contains a RequestGroup, one action per card (id = node id), one child per
suggestion, and below it one child per suggestion action whose resource is the suggested ServiceRequest
(`instantiatesCanonical` = its ActivityDefinition url|version, `supportingInfo` = the records the
node's conclusion rests on).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import HOOKS
from cds_service.guideline.valuesets import load_valuesets
from cds_service.pathway.result import NodeResult
from cds_service.publication.artifact import PRIORITY, Artifact, canonical
from cds_service.tools.hook_input import InputError, request_for_fhir_server, request_from_bundle

__all__ = ["APPLY_PARAMETERS", "ApplyError", "ApplyRequest", "care_plan", "hook_request", "orderable_index"]

JSON = dict[str, Any]

ACTION_TYPE = "http://terminology.hl7.org/CodeSystem/action-type"
_CDS_ACTION_TYPE = {"create": "create", "update": "update", "delete": "remove"}
# FHIR R4 PlanDefinition/$apply input parameters this service reads; `hook` is its own (default patient-view).
APPLY_PARAMETERS = ("subject", "encounter", "practitioner", "data", "dataEndpoint", "hook")


class ApplyError(ValueError):
    """The Parameters cannot become an evaluation; the message names the parameter (never a patient value)."""


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    hook: str
    body: JSON  # the CDS Hooks request
    encounter: str | None


def _string(param: JSON, name: str) -> str:
    for key in ("valueString", "valueReference", "valueUri", "valueUrl", "valueCode", "valueId"):
        if key in param:
            value = param[key]
            if key == "valueReference":
                value = value.get("reference") if isinstance(value, dict) else None
            if isinstance(value, str) and value.strip():
                return value.strip()
            raise ApplyError(f"parameter '{name}': {key} is empty or not a string")
    raise ApplyError(f"parameter '{name}' needs a valueString (or valueReference)")


def _reference(value: str, resource_type: str, name: str) -> str:
    """`Patient/123` or `123` -> `123`."""
    kind, slash, ident = value.rpartition("/")
    if slash and kind.rsplit("/", 1)[-1] != resource_type:
        raise ApplyError(f"parameter '{name}' must reference a {resource_type} ('{resource_type}/<id>')")
    ident = ident if slash else value
    if not ident or len(ident) > 64 or not all(c.isalnum() or c in "-." for c in ident):
        raise ApplyError(f"parameter '{name}' is not a valid {resource_type} reference")
    return ident


def _endpoint(param: JSON) -> tuple[str, JSON | None]:
    """An Endpoint resource (CPG's `dataEndpoint`) or a URL: the FHIR server, and its bearer token if given."""
    resource = param.get("resource")
    if resource is None:
        return _string(param, "dataEndpoint"), None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Endpoint":
        raise ApplyError("parameter 'dataEndpoint' must be an Endpoint resource or a URL")
    address = resource.get("address")
    if not isinstance(address, str) or not address:
        raise ApplyError("parameter 'dataEndpoint': Endpoint.address is missing")
    token = None
    for header in resource.get("header") or []:
        if isinstance(header, str) and header.lower().startswith("authorization: bearer "):
            token = header.split(" ", 2)[2].strip()
    auth = {"access_token": token, "token_type": "Bearer"} if token else None
    return address, auth


def hook_request(parameters: Any, *, today: date | None = None) -> ApplyRequest:
    """The CDS Hooks request a hook call about the same patient and record would carry."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise ApplyError("the body must be a FHIR Parameters resource")
    entries = parameters.get("parameter") or []
    if not isinstance(entries, list):
        raise ApplyError("Parameters.parameter must be an array")
    given: dict[str, JSON] = {}
    for index, param in enumerate(entries):
        name = param.get("name") if isinstance(param, dict) else None
        if name not in APPLY_PARAMETERS:
            # Nothing ignored silently: an input the operation does not read is refused.
            raise ApplyError(f"parameter[{index}]: '{name}' is not supported; use {', '.join(APPLY_PARAMETERS)}")
        if name in given:
            raise ApplyError(f"parameter '{name}' is given more than once (one patient per call)")
        given[name] = param
    if "subject" not in given:
        raise ApplyError("parameter 'subject' is required ('Patient/<id>')")
    patient = _reference(_string(given["subject"], "subject"), "Patient", "subject")
    hook = _string(given["hook"], "hook") if "hook" in given else "patient-view"
    if hook not in HOOKS:
        raise ApplyError(f"parameter 'hook' must be one of {', '.join(HOOKS)}")
    if ("data" in given) == ("dataEndpoint" in given):
        raise ApplyError("give the record either as 'data' (a Bundle) or as 'dataEndpoint' (a FHIR server), one of them")
    try:
        if "data" in given:
            bundle = given["data"].get("resource")
            if not isinstance(bundle, dict):
                raise ApplyError("parameter 'data' must carry a Bundle resource")
            body = request_from_bundle(bundle, hook=hook, patient_id=patient, today=today)
        else:
            if hook != "patient-view":
                raise ApplyError(f"parameter 'hook' {hook} needs the draft orders in 'data'; with 'dataEndpoint' use patient-view")
            address, auth = _endpoint(given["dataEndpoint"])
            body = request_for_fhir_server(address, patient, hook=hook, today=today)
            if auth is not None:
                body["fhirAuthorization"] = auth
    except InputError as exc:
        where = "data" if "data" in given else "dataEndpoint"
        # hook_input speaks to the `evaluate` tool's users; here the patient is the `subject` parameter.
        raise ApplyError(f"parameter '{where}' {str(exc).replace('--patient', 'subject')}") from None
    encounter = None
    if "encounter" in given:
        encounter = _reference(_string(given["encounter"], "encounter"), "Encounter", "encounter")
        body["context"]["encounterId"] = encounter
    if "practitioner" in given:
        practitioner = _string(given["practitioner"], "practitioner")
        _reference(practitioner, "Practitioner", "practitioner")
        body["context"]["userId"] = practitioner if "/" in practitioner else f"Practitioner/{practitioner}"
    return ApplyRequest(hook=hook, body=body, encounter=encounter)


def orderable_index(config: PathwayConfig) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(system, code) -> orderable name, for the standard and the local codes; text -> name for text-only ones."""
    by_coding: dict[tuple[str, str], str] = {}
    by_text: dict[str, str] = {}
    for name, item in load_valuesets().orderables.items():
        if item.system and item.code:
            by_coding[(item.system, item.code)] = name
        else:
            by_text[item.text] = name
    for name, mapped in config.local.orderables.items():
        by_coding.setdefault((mapped.system, mapped.code), name)
    return by_coding, by_text


def _orderable_of(resource: JSON, index: tuple[dict[tuple[str, str], str], dict[str, str]]) -> str | None:
    by_coding, by_text = index
    code = resource.get("code") or {}
    for coding in code.get("coding") or ():
        name = by_coding.get((coding.get("system"), coding.get("code")))
        if name:
            return name
    return by_text.get(code.get("text", ""))


def _supporting(result: NodeResult | None) -> list[JSON]:
    if result is None:
        return []
    seen: dict[str, str] = {}
    for evidence in result.evidence:
        if evidence.reference and evidence.reference not in seen:
            seen[evidence.reference] = evidence.label
    return [{"reference": ref, "display": label} for ref, label in seen.items()]


def _code_of(artifact: Artifact, node_id: str) -> list[JSON]:
    plan = artifact.find("PlanDefinition", node_id)
    return copy.deepcopy(plan["action"][0]["code"]) if plan else []


def _citations(artifact: Artifact, node_id: str) -> list[JSON]:
    plan = artifact.find("PlanDefinition", node_id)
    return copy.deepcopy(plan["action"][0].get("documentation", [])) if plan else []


def care_plan(
    plan: JSON,
    artifact: Artifact,
    *,
    cards: list[JSON],
    results: tuple[NodeResult, ...],
    patient_id: str,
    encounter: str | None,
    config: PathwayConfig,
    hook_instance: str,
    data_issues: tuple[JSON, ...] = (),
    issues_not_listed: int = 0,
) -> JSON:
    """The cards of one evaluation as a CarePlan containing a RequestGroup (R4 $apply's answer)."""
    index = orderable_index(config)
    by_node = {result.node_id: result for result in results}
    subject = {"reference": f"Patient/{patient_id}"}
    instantiates = f"{plan['url']}|{plan['version']}"
    contained: list[JSON] = []
    actions: list[JSON] = []
    for card in cards:
        node_id = card["source"]["topic"]["code"]
        result = by_node.get(node_id)
        action: JSON = {
            "id": node_id,
            "title": card["summary"],
            "description": card["detail"],
            "priority": PRIORITY[card["indicator"]],
            "code": _code_of(artifact, node_id),
            "documentation": [
                {"type": "documentation", "label": card["source"]["label"], "url": card["source"]["url"]},
                *_citations(artifact, node_id),
            ],
        }
        children = []
        for suggestion in card.get("suggestions", []):
            steps = []
            for position, cds_action in enumerate(suggestion["actions"]):
                step: JSON = {
                    "id": f"{suggestion['uuid']}-{position}",
                    "title": cds_action.get("description", suggestion["label"]),
                    "type": {"coding": [{"system": ACTION_TYPE, "code": _CDS_ACTION_TYPE[cds_action["type"]]}]},
                }
                resource = cds_action.get("resource")
                if resource is not None:
                    resource = copy.deepcopy(resource)
                    name = _orderable_of(resource, index) if resource.get("resourceType") == "ServiceRequest" else None
                    if name is not None and cds_action["type"] == "create":
                        resource["instantiatesCanonical"] = [f"{canonical('ActivityDefinition', name)}|{artifact.version}"]
                    supporting = _supporting(result)
                    if supporting and resource.get("resourceType") == "ServiceRequest":
                        resource["supportingInfo"] = supporting
                    contained.append(resource)
                    step["resource"] = {"reference": f"#{resource['id']}"}
                else:
                    step["resource"] = {"reference": cds_action["resourceId"]}
                steps.append(step)
            children.append({"id": suggestion["uuid"], "title": suggestion["label"], "action": steps})
        if children:
            action["selectionBehavior"] = card.get("selectionBehavior", "any")
            action["action"] = children
        else:
            # Guidance without an order (rqg-1: an action has a resource or children): a proposed communication.
            communication = {
                "resourceType": "CommunicationRequest",
                "id": f"{card['uuid']}-guidance",
                "status": "draft",
                "subject": subject,
                "payload": [{"contentString": f"{card['summary']}\n\n{card['detail']}"}],
            }
            supporting = _supporting(result)
            if supporting:
                communication["reasonReference"] = supporting
            contained.append(communication)
            action["resource"] = {"reference": f"#{communication['id']}"}
        actions.append(action)
    group: JSON = {
        "resourceType": "RequestGroup",
        "id": "request-group",
        "instantiatesCanonical": [instantiates],
        "status": "draft",
        "intent": "proposal",
        "subject": subject,
    }
    if encounter:
        group["encounter"] = {"reference": f"Encounter/{encounter}"}
    if actions:
        group["action"] = actions
    result_plan: JSON = {
        "resourceType": "CarePlan",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"apply:{plan['url']}:{hook_instance}")),
        "contained": [group, *contained],
        "instantiatesCanonical": [instantiates],
        "status": "draft",
        "intent": "proposal",
        "title": plan["title"],
        "subject": subject,
        "activity": [{"reference": {"reference": "#request-group"}}],
    }
    if encounter:
        result_plan["encounter"] = {"reference": f"Encounter/{encounter}"}
    if data_issues or issues_not_listed:
        # What the evaluation could not read is said, not dropped: an OperationOutcome beside the plan.
        issues = [{"severity": "warning", "code": "processing",
                   "diagnostics": ": ".join(str(i[k]) for k in ("where", "resource", "problem") if i.get(k))}
                  for i in data_issues]
        if issues_not_listed:
            issues.append({"severity": "warning", "code": "processing",
                           "diagnostics": f"{issues_not_listed} more input issue(s), not listed"})
        result_plan["contained"].append({"resourceType": "OperationOutcome", "id": "data-issues", "issue": issues})
        result_plan["supportingInfo"] = [{"reference": "#data-issues"}]
    return result_plan
