"""Every resource the service can suggest is valid FHIR R4 (fhir.resources R4B models), proven here once
instead of validated on every call: every orderable in every shape a suggestion action can take."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.guideline.nodes import pathway_spec
from cds_service.guideline.valuesets import load_valuesets
from cds_service.pathway.result import CreateOrder, DeleteDraft, UpdateDraftOccurrence
from cds_service.protocol.response import Action
from cds_service.render.resources import build_action
from cds_service.render.text import MAX_TEXT_CHARS
from tests.support.pathway_facts import draft, facts

JSON = dict[str, Any]
ORDERABLES = sorted(load_valuesets().orderables)
START, END = date(2026, 11, 23), date(2026, 12, 7)
REASON_CODE = {"coding": [{"system": "http://snomed.info/sct", "code": "240002007", "display": "Calcific tendinitis"}],
               "text": "Calcific tendinitis of the right foot"}
# Every field a CreateOrder can fill, in every combination the pathway uses or could.
SHAPES = [
    dict(priority=priority, occurrence_start=start, occurrence_end=end, intent=intent,
         reason_references=refs, reason_codes=codes)
    for priority, (start, end), intent, refs, codes in itertools.product(
        (None, "routine", "urgent", "stat"),
        ((None, None), (START, END), (START, None)),
        ("proposal", "order"),
        ((), ("Condition/calc", "Observation/ca")),
        ((), (REASON_CODE,)),
    )
]


def _valid(resource: JSON) -> ServiceRequest:
    model = ServiceRequest.model_validate(resource)
    # What the service sends is exactly what the R4B model would send: nothing dropped, nothing null.
    assert model.model_dump(mode="json", exclude_none=True) == resource
    return model


def test_every_orderable_is_used_by_some_node_or_declared_for_one() -> None:
    used = {name for node in pathway_spec().nodes for name in node.orderables}
    assert used <= set(ORDERABLES)


@pytest.mark.parametrize("name", ORDERABLES)
def test_every_orderable_in_every_create_shape_is_valid_r4(name: str) -> None:
    f = facts()
    for i, shape in enumerate(SHAPES):
        action = build_action(CreateOrder(orderable=name, **shape), facts=f, resource_id=f"r-{i}")
        Action.model_validate(action)
        model = _valid(action["resource"])
        assert model.status == "draft" and model.subject.reference == "Patient/pat-1" and model.id == f"r-{i}"
        assert action["type"] == "create" and action["description"].startswith("Order ")


def test_a_huge_indication_carried_over_stays_valid_and_bounded() -> None:
    huge = {"coding": [{"system": "http://snomed.info/sct", "code": "240002007", "display": "x" * 100_000}],
            "text": "y" * 100_000}
    action = build_action(CreateOrder(orderable="xr-foot-3-views", reason_codes=(huge,)), facts=facts(), resource_id="r")
    (reason,) = _valid(action["resource"]).reasonCode
    assert len(reason.text) == MAX_TEXT_CHARS and len(reason.coding[0].display) == MAX_TEXT_CHARS
    assert huge["text"] == "y" * 100_000  # the draft's own data is not touched


def test_delete_action_names_the_draft_by_relative_reference() -> None:
    action = build_action(DeleteDraft(resource_id="ServiceRequest/mr", label="MR foot (procedure)"),
                          facts=facts(), resource_id="unused")
    Action.model_validate(action)
    assert action == {"type": "delete", "description": "Remove the draft order: MR foot",
                      "resourceId": "ServiceRequest/mr"}


@pytest.mark.parametrize("occurrence", [
    {"occurrenceDateTime": "2026-11-21"},
    {"occurrencePeriod": {"start": "2026-11-21"}},
    {"occurrenceTiming": {"event": ["2026-11-21T09:00:00Z"]}},
    {},
])
def test_update_action_sends_the_whole_draft_with_one_occurrence(occurrence: JSON) -> None:
    resource = {"resourceType": "ServiceRequest", "id": "xr-early", "status": "draft", "intent": "order",
                "subject": {"reference": "Patient/pat-1"}, "reasonCode": [REASON_CODE],
                "code": {"coding": [{"system": "http://loinc.org", "code": "36305-1", "display": "XR Foot 3 Views"}]},
                **occurrence}
    _valid(resource)  # as the facts step accepted it
    f = facts(hook="order-sign", draft_orders=(draft("ServiceRequest/xr-early", "imaging", resource=resource),))
    action = build_action(UpdateDraftOccurrence("ServiceRequest/xr-early", "XR foot", START, END), facts=f,
                          resource_id="unused")
    Action.model_validate(action)
    model = _valid(action["resource"])
    assert model.occurrencePeriod.start.isoformat() == "2026-11-23" and model.occurrenceDateTime is None
    assert action["resource"]["reasonCode"] == [REASON_CODE] and resource.get("occurrencePeriod") != {
        "start": "2026-11-23", "end": "2026-12-07"}  # the facts' copy is not modified
