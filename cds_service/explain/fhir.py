"""The explanation as a FHIR GuidanceResponse (R4; validated with fhir.resources' R4B model, whose
GuidanceResponse is R4's), so a FHIR tool can read it.

- status: success, or data-required when a node could not be decided (a record it reads was unreadable);
- moduleUri: the pathway's PlanDefinition canonical (issue 20's artifact);
- outputParameters: a contained Parameters, one parameter per node (outcome, why, card, and each condition's
  answer and reason as parts);
- dataRequirement: per resource type whose unreadable records left a condition unknown.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from cds_service.explain.build import issue_type
from cds_service.explain.model import Explanation
from cds_service.publication.artifact import PATHWAY_ID, canonical

__all__ = ["guidance_response"]

JSON = dict[str, Any]


def _node_parameter(node: Any) -> JSON:
    parts: list[JSON] = [
        {"name": "outcome", "valueCode": node.outcome},
        {"name": "why", "valueString": node.why},
    ]
    if node.card is not None:
        parts.append({"name": "card", "valueInteger": node.card})
    for rule in node.rules:
        for c in rule.conditions:
            refs = ", ".join(r.reference for r in c.records if r.reference)
            text = f"{rule.rule}: {c.answer} ({c.reason})" + (f"; records: {refs}" if refs else "")
            parts.append({"name": c.condition, "valueString": text})
    return {"name": node.id, "part": parts}


def guidance_response(explanation: Explanation, *, request_id: str, patient_id: str) -> JSON:
    """`request_id`: the hookInstance; `patient_id` names the subject (the caller's own request names it)."""
    # A left-out item is a `Type/id`, or where a whole key or entry was lost ("prefetch.lab-results").
    unknown_types = sorted({
        ref.split("/")[0] if "/" in ref else issue_type({"where": ref})
        for node in explanation.nodes for rule in node.rules for c in rule.conditions if c.answer == "unknown"
        for ref in c.left_out
    } - {None})
    undecided = any(n.outcome == "could-not-be-decided" for n in explanation.nodes)
    body: JSON = {
        "resourceType": "GuidanceResponse",
        "contained": [{"resourceType": "Parameters", "id": "nodes",
                       "parameter": [_node_parameter(n) for n in explanation.nodes]}],
        "requestIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{request_id}"},
        "moduleUri": canonical("PlanDefinition", PATHWAY_ID),
        "status": "data-required" if undecided else "success",
        "subject": {"reference": f"Patient/{patient_id}"},
        "occurrenceDateTime": explanation.evaluated_on,
        "outputParameters": {"reference": "#nodes"},
    }
    if unknown_types:
        body["dataRequirement"] = [{"type": t} for t in unknown_types]
    # Validated: a wrong element name or type fails here, in the tests, not in a FHIR tool.
    return GuidanceResponse.model_validate(body).model_dump(mode="json", exclude_none=True)
