"""Issue 16, class "sites": where a record is, read by rule across resource types and hooks.

Rule (valuesets.toml local decisions; spec "Vocabulary": a foot/ankle/heel/toe site, no fact broader than the
record): a known foot/ankle code is the foot; a known lower-limb region needs foot evidence; any other code
without words is elsewhere. Another site in a bodySite or in an order's reason outranks "lower extremity,
possibly the foot": such an order is not foot imaging and gets no card or delete/replace suggestion.
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.facts.model import Modality
from cds_service.pathway.result import DeleteDraft
from tests.support.facts_builders import (
    ICD10CM,
    SNOMED,
    condition,
    days_ago,
    facts_for,
    imaging_study,
    service_request,
)
from tests.support.pathway_facts import results_by_node

CPT = "http://www.ama-assn.org/go/cpt"
MRI_JOINT = (CPT, "73721",
             "Magnetic resonance (eg, proton) imaging, any joint of lower extremity; without contrast material")
CT_LOWER = (CPT, "73700", "Computed tomography, lower extremity; without contrast material")
MRI_OTHER_THAN_JOINT = (CPT, "73718")
CALCIFIC_TENDINITIS_RIGHT_FOOT = (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot")
# Coded-only body sites (EHDSI body-site value set): knee region, hand, thigh; calcaneum; lower limb.
KNEE, HAND, THIGH = (SNOMED, "72696002"), (SNOMED, "85562004"), (SNOMED, "68367000")
CALCANEUM, LOWER_LIMB, LEFT_FOOT = (SNOMED, "80144004"), (SNOMED, "61685007"), (SNOMED, "22335008")
DEBRIDEMENT = (SNOMED, "312775003", "Debridement of ulcer")


def _pathway_patient() -> dict[str, Any]:
    return condition("calc", CALCIFIC_TENDINITIS_RIGHT_FOOT, onset=days_ago(20))


def _draft(code: Any, **kw: Any) -> dict[str, Any]:
    order = service_request("draft-1", code, status="draft", **kw)
    return order


def _order(draft: dict[str, Any], *resources: dict[str, Any], hook: str = "order-select") -> Any:
    f = facts_for(_pathway_patient(), *resources, hook=hook, drafts=(draft,))
    (order,) = f.draft_orders
    return f, order


def _no_suggestion_touches(f: Any, reference: str) -> None:
    for result in results_by_node(f).values():
        for suggestion in result.suggestions:
            for action in suggestion.actions:
                assert not (isinstance(action, DeleteDraft) and reference in str(action)), result.node_id
        assert all(e.reference != reference for e in result.evidence), result.node_id


@pytest.mark.parametrize("site", [KNEE, HAND, THIGH])
def test_coded_only_site_elsewhere_on_an_imaging_draft_is_not_foot_imaging(site: tuple[str, str]) -> None:
    f, order = _order(_draft(MRI_JOINT, body_site=site))
    assert order.category == "other" and not order.possibly_foot
    _no_suggestion_touches(f, "ServiceRequest/draft-1")


def test_coded_only_foot_site_is_the_foot_and_a_region_is_only_possibly_the_foot() -> None:
    _, foot = _order(_draft(MRI_JOINT, body_site=CALCANEUM))
    assert (foot.category, foot.modality, foot.body_site, foot.possibly_foot) == ("imaging", Modality.MR, "heel", False)
    _, left = _order(_draft(CT_LOWER, body_site=LEFT_FOOT))
    assert (left.body_site, left.side.value if left.side else None) == ("foot", "left")
    _, region = _order(_draft(MRI_JOINT, body_site=LOWER_LIMB))
    assert (region.category, region.body_site, region.possibly_foot) == ("imaging", None, True)


@pytest.mark.parametrize(
    "reason",
    [
        {"coding": [{"system": SNOMED, "code": "125601008", "display": "Injury of knee"}], "text": "Injury of knee"},
        {"coding": [{"system": SNOMED, "code": "125601008", "display": "Injury of knee"}]},  # the Sandbox PAMA shape
        {"coding": [{"system": ICD10CM, "code": "S83.004A"}]},  # coded only: S80-S89 knee and lower leg
        {"text": "Right hip pain"},
    ],
)
@pytest.mark.parametrize("code", [MRI_JOINT, CT_LOWER, MRI_OTHER_THAN_JOINT])
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_sandbox_pama_lower_extremity_order_with_a_reason_elsewhere_is_not_foot_imaging(
    reason: dict[str, Any], code: Any, hook: str
) -> None:
    f, order = _order(_draft(code, reason_codes=[reason]), hook=hook)
    assert order.category == "other"
    _no_suggestion_touches(f, "ServiceRequest/draft-1")


def test_reason_reference_to_a_condition_of_another_site() -> None:
    # The referenced Condition's words ("of knee") or its coded-only bodySite name the other site; a
    # Condition no value set selects is kept for the draft that references it (parse.py).
    knee = condition("knee", (SNOMED, "125601008", "Injury of knee"), onset=days_ago(3))
    _, order = _order(_draft(MRI_JOINT, reason_refs=["Condition/knee"]), knee)
    assert order.category == "other"
    knee_mass = condition("mass", text="Soft tissue mass of knee", onset=days_ago(3))
    _, order = _order(_draft(MRI_JOINT, reason_refs=["Condition/mass"]), knee_mass)
    assert order.category == "other"
    coded_site = condition("knee2", (ICD10CM, "R22.41"), body_site=KNEE)
    _, order = _order(_draft(CT_LOWER, reason_refs=["Condition/knee2"]), coded_site)
    assert order.category == "other"


def test_a_foot_reason_keeps_a_lower_extremity_order_possibly_the_foot() -> None:
    for reason in ({"text": "Calcification of the right heel"}, {"coding": [{"system": ICD10CM, "code": "S93.04XA"}]}):
        _, order = _order(_draft(MRI_JOINT, reason_codes=[reason]))
        assert (order.category, order.possibly_foot) == ("imaging", True)
    _, order = _order(_draft(MRI_JOINT, reason_refs=["Condition/calc"]))
    assert (order.category, order.possibly_foot) == ("imaging", True)
    # no reason at all: unchanged, possibly the foot
    _, order = _order(_draft(MRI_JOINT))
    assert (order.category, order.possibly_foot) == ("imaging", True)


def test_a_foot_coded_order_stays_foot_imaging_whatever_the_reason_says() -> None:
    xr_foot = ("http://loinc.org", "36305-1", "XR Foot 3 Views")
    _, order = _order(_draft(xr_foot, reason_codes=[{"text": "Injury of knee"}]))
    assert (order.category, order.body_site) == ("imaging", "foot")


def test_debridement_site_from_coded_only_site_and_from_the_reason() -> None:
    _, hand = _order(_draft(DEBRIDEMENT, body_site=HAND))
    assert (hand.category, hand.body_site) == ("procedure", "elsewhere")
    _, heel = _order(_draft(DEBRIDEMENT, body_site=CALCANEUM))
    assert heel.body_site == "heel"
    _, knee = _order(_draft(DEBRIDEMENT, reason_codes=[{"coding": [{"system": ICD10CM, "code": "S81.001A"}]}]))
    assert knee.body_site == "elsewhere"
    _, foot = _order(_draft(DEBRIDEMENT, reason_codes=[{"text": "Ulcer of left foot"}]))
    assert foot.body_site == "foot"
    _, unsited = _order(_draft(DEBRIDEMENT))
    assert unsited.body_site is None


@pytest.mark.parametrize("site,in_pathway", [(KNEE, False), (HAND, False), (LOWER_LIMB, False), (CALCANEUM, True),
                                              (LEFT_FOOT, True)])
def test_problem_with_a_coded_only_site(site: tuple[str, str], in_pathway: bool) -> None:
    # "Pathologic calcification" has no site in its code: the bodySite decides.
    f = facts_for(condition("c", (SNOMED, "18115005"), body_site=site, onset=days_ago(10)))
    assert bool(f.problems) is in_pathway


def test_coded_only_site_elsewhere_overrides_a_foot_code_of_a_problem_and_a_study() -> None:
    f = facts_for(condition("c", CALCIFIC_TENDINITIS_RIGHT_FOOT, body_site=HAND, onset=days_ago(10)))
    assert f.problems == ()
    study = imaging_study("s1", "MR", body_site=KNEE)
    f = facts_for(_pathway_patient(), study)
    assert all(event.reference != "ImagingStudy/s1" for event in f.imaging)
    foot_study = imaging_study("s2", "MR", body_site=CALCANEUM)
    f = facts_for(_pathway_patient(), foot_study)
    assert any(event.reference == "ImagingStudy/s2" for event in f.imaging)


def test_words_that_name_no_place_over_an_unknown_code_are_no_answer() -> None:
    # "Left" (a side) with a code we do not list: neither the foot nor another place.
    order = _draft(MRI_JOINT)
    order["bodySite"] = [{"coding": [{"system": SNOMED, "code": "7771000"}], "text": "Left"}]
    _, read = _order(order)
    assert (read.category, read.possibly_foot) == ("imaging", True)
