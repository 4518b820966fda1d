"""initial-radiograph and advanced-imaging: fires, silent, lookback edges, already done / ordered."""

from __future__ import annotations

from cds_service.facts.model import CalcificationClass, Modality, Side
from cds_service.pathway.result import CreateOrder, DeleteDraft
from tests.support.pathway_facts import (
    CONFIG,
    calcification,
    classified,
    created_orderables,
    draft,
    evidence,
    facts,
    infection,
    node_ids,
    results_by_node,
    xr,
)

LOOKBACK = CONFIG.imaging_lookback_days


def test_outside_the_pathway_nothing_fires() -> None:
    assert results_by_node(facts(problems=())) == {}
    assert results_by_node(facts(problems=(), hook="order-sign",
                                 draft_orders=(draft("ServiceRequest/mr", "imaging", modality=Modality.MR),))) == {}


def test_initial_radiograph_fires_without_a_radiograph_and_suggests_the_sided_xr() -> None:
    result = results_by_node(facts())["initial-radiograph"]
    assert result.indicator == "warning"
    assert created_orderables(result) == ["xr-foot-right-3-views"]
    (order,) = result.suggestions[0].actions
    assert isinstance(order, CreateOrder) and order.reason_references == ("Condition/calc",)
    assert result.evidence[0].reference == "Condition/calc"


def test_initial_radiograph_uses_the_unsided_code_when_sides_differ() -> None:
    f = facts(problems=(calcification("Condition/a", side=Side.RIGHT), calcification("Condition/b", side=Side.LEFT)))
    assert created_orderables(results_by_node(f)["initial-radiograph"]) == ["xr-foot-3-views"]


def test_initial_radiograph_lookback_boundary() -> None:
    assert "initial-radiograph" not in node_ids(facts(imaging=(xr(LOOKBACK),)))
    assert "initial-radiograph" in node_ids(facts(imaging=(xr(LOOKBACK + 1),)))


def test_initial_radiograph_silent_when_already_ordered_or_undated() -> None:
    assert "initial-radiograph" not in node_ids(facts(imaging=(xr(None, status="ordered"),)))
    assert "initial-radiograph" not in node_ids(facts(imaging=(xr(None),)))


def test_order_hooks_replace_advanced_imaging_by_radiograph() -> None:
    mr = draft("ServiceRequest/mr", "imaging", modality=Modality.MR, side=Side.LEFT)
    for hook in ("order-select", "order-sign"):
        result = results_by_node(facts(hook=hook, draft_orders=(mr,)))["initial-radiograph"]
        # Keeping the draft is an override (dismiss with a reason), not a suggestion: an accepted "keep"
        # would read in feedback as if the radiograph-first advice had been followed.
        (replace,) = result.suggestions
        assert result.selection_behavior == "at-most-one" and replace.is_recommended
        assert isinstance(replace.actions[0], DeleteDraft) and replace.actions[0].resource_id == "ServiceRequest/mr"
        assert replace.actions[1].orderable == "xr-foot-left-3-views"  # the draft's side wins
        assert set(result.override_reasons) == {"done-elsewhere", "urgent-clinical-need", "other"}


def test_order_hooks_silent_for_unselected_non_foot_or_with_recent_xr() -> None:
    unselected = draft("ServiceRequest/mr", "imaging", modality=Modality.MR, selected=False)
    knee = draft("ServiceRequest/ct", "imaging", modality=Modality.CT, body_site="knee")
    mr = draft("ServiceRequest/mr", "imaging", modality=Modality.MR)
    assert "initial-radiograph" not in node_ids(facts(hook="order-select", draft_orders=(unselected,)))
    assert "initial-radiograph" not in node_ids(facts(hook="order-select", draft_orders=(knee,)))
    assert "initial-radiograph" not in node_ids(facts(hook="order-select", draft_orders=(mr,), imaging=(xr(3),)))
    xr_draft = draft("ServiceRequest/xr", "imaging", modality=Modality.XR, selected=False)
    assert "initial-radiograph" not in node_ids(facts(hook="order-select", draft_orders=(mr, xr_draft)))


def test_patient_view_nodes_do_not_fire_at_order_select() -> None:
    assert node_ids(facts(hook="order-select")) == set()


def _uncertain(**kw):  # type: ignore[no-untyped-def]
    kw.setdefault("imaging", (xr(40),))
    return facts(classification=classified(CalcificationClass.UNDETERMINED), **kw)


def test_advanced_imaging_after_radiograph_when_uncertain() -> None:
    result = results_by_node(_uncertain())["advanced-imaging"]
    assert result.selection_behavior == "at-most-one"
    assert [s.key for s in result.suggestions] == ["order-mri", "order-us", "order-ct"]
    assert created_orderables(result) == ["mr-foot-right-wo", "us-lower-extremity-soft-tissue", "ct-foot-right-wo"]
    assert sum(bool(s.is_recommended) for s in result.suggestions) == 1


def test_advanced_imaging_recommends_by_situation() -> None:
    def recommended(f):  # type: ignore[no-untyped-def]
        return next(s.key for s in results_by_node(f)["advanced-imaging"].suggestions if s.is_recommended)

    mass = calcification("Condition/mass", kind="soft-tissue-mass", label="Mass of foot")
    assert recommended(_uncertain(problems=(mass,))) == "order-us"
    assert recommended(_uncertain(problems=(mass,), infections=(infection("cellulitis"),))) == "order-mri"
    cppd = calcification(label="Other chondrocalcinosis, right ankle and foot")
    assert recommended(_uncertain(problems=(cppd,))) == "order-ct"


def test_advanced_imaging_silent_without_xr_when_certain_or_already_imaged() -> None:
    assert "advanced-imaging" not in node_ids(facts(classification=classified(CalcificationClass.UNDETERMINED)))
    assert "advanced-imaging" not in node_ids(facts(imaging=(xr(40),)))  # dystrophic and confirmed
    assert "advanced-imaging" not in node_ids(_uncertain(imaging=(xr(40), xr(10, modality=Modality.US))))
    assert "advanced-imaging" not in node_ids(_uncertain(imaging=(xr(40), xr(None, status="ordered",
                                                                                 modality=Modality.MR))))
    provisional = calcification(verification="provisional")
    assert "advanced-imaging" in node_ids(facts(problems=(provisional,), imaging=(xr(40),)))


def test_order_ct_while_osteomyelitis_swaps_for_mri() -> None:
    ct = draft("ServiceRequest/ct", "imaging", modality=Modality.CT)
    f = facts(hook="order-select", draft_orders=(ct,), imaging=(xr(20),),
              osteomyelitis=evidence("Osteomyelitis of foot", "Condition/om"))
    result = results_by_node(f)["advanced-imaging"]
    (swap,) = result.suggestions
    assert isinstance(swap.actions[0], DeleteDraft) and swap.actions[1].orderable == "mr-foot-right-wo"
    assert "mri-contraindicated" in result.override_reasons
    # no infection suspected: a CT is fine
    assert "advanced-imaging" not in node_ids(facts(hook="order-select", draft_orders=(ct,), imaging=(xr(20),)))
    # MRI already done: the card informs without suggesting a second MRI
    done = results_by_node(facts(hook="order-sign", draft_orders=(ct,), imaging=(xr(20), xr(5, modality=Modality.MR)),
                                 osteomyelitis=evidence("Osteomyelitis of foot", "Condition/om")))
    assert done["advanced-imaging"].suggestions == ()


def test_reason_references_only_name_resources_a_reason_may_point_to() -> None:
    from_draft = calcification("ServiceRequest/mr", kind="draft-order-reason", label="Calcification (order reason)")
    mr = draft("ServiceRequest/mr", "imaging", modality=Modality.MR)
    result = results_by_node(facts(hook="order-sign", problems=(from_draft,), draft_orders=(mr,)))["initial-radiograph"]
    create = result.suggestions[0].actions[-1]
    assert isinstance(create, CreateOrder) and create.reason_references == ()
