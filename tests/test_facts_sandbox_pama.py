"""Issue 16: the public CDS Hooks Sandbox's PAMA order-select request (a draft ServiceRequest with a CPT
lower-extremity code and a SNOMED reason, selected), sent over HTTP to the service for a foot-pathway
patient. A knee order is not foot imaging: no card cites it and no suggestion deletes or replaces it; the
same order for a foot reason is read as "lower extremity, possibly the foot".

Spec entry 4 / advanced-imaging: the order hooks check selected MRI/CT/US orders of the foot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_fixtures.catalog import resources
from fhir_fixtures.hook_requests import request_from

CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
PATH = "/cds-services/foot-calcification-order-select"
PATIENT = "fc-tendinitis-no-xr"  # right-foot calcific tendinitis, no radiograph yet


def _pama(code: str, display: str, reason: dict[str, Any] | None) -> dict[str, Any]:
    # The Sandbox PAMA tab's draft: status draft, intent order, CPT code, SNOMED reasonCode, no bodySite.
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": "pama-1",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": CPT, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    if reason is not None:
        order["reasonCode"] = [reason]
    return order


def _call(client: TestClient, order: dict[str, Any]) -> dict[str, Any]:
    body = request_from(PATIENT, "order-select", resources(PATIENT),
                        {"draftOrders": [order], "selections": ["ServiceRequest/pama-1"]}, date.today())
    response = client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    return response.json()


KNEE_INJURY = {"coding": [{"system": SNOMED, "code": "125601008", "display": "Injury of knee"}]}


@pytest.mark.parametrize(
    "code,display",
    [("73721", "Magnetic resonance (eg, proton) imaging, any joint of lower extremity; without contrast material"),
     ("73700", "Computed tomography, lower extremity; without contrast material")],
)
def test_a_knee_order_gets_no_card_or_suggestion_about_it(
    make_client: Callable[..., TestClient], code: str, display: str
) -> None:
    answer = _call(make_client(), _pama(code, display, KNEE_INJURY))
    text = json.dumps(answer)
    assert "pama-1" not in text  # no delete, no replace, no evidence of the knee order
    assert "Injury of knee" not in text  # never the reason of a suggested foot order
    assert all("Advanced foot imaging" not in card["summary"] for card in answer["cards"])


def test_the_same_order_for_a_foot_reason_is_read_as_possibly_the_foot(make_client: Callable[..., TestClient]) -> None:
    foot = {"text": "Calcific tendinitis of the right foot"}
    order = _pama("73721", "Magnetic resonance (eg, proton) imaging, any joint of lower extremity", foot)
    answer = _call(make_client(), order)
    # The patient has no radiograph: the selected possibly-foot MRI is answered (plain X-ray first).
    assert "pama-1" in json.dumps(answer)
