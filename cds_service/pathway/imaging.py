"""Imaging nodes: `initial-radiograph` and `advanced-imaging` (seed 000, "Initial Assessment" and
"Advanced Imaging")."""

from __future__ import annotations

import json

from cds_service.facts.model import DraftOrder, Modality, Side
from cds_service.pathway import lookups
from cds_service.pathway.context import (
    NodeContext,
    draft_evidence,
    imaging_evidence,
    infection_evidence,
    problem_evidence,
)
from cds_service.pathway.questions import (
    diabetic_foot_infection,
    has_osteomyelitis_diagnosis,
    infection_related,
    osteomyelitis_or_dfi_suspected,
)
from cds_service.pathway.result import CreateOrder, DeleteDraft, NodeResult, ProposedSuggestion

__all__ = ["advanced_imaging", "initial_radiograph", "radiograph_orderable"]

CPPD_WORDS = ("chondrocalcinosis", "cppd", "pyrophosphate", "tendinitis", "tendon", "ligament", "capsule")


def radiograph_orderable(side: Side | None) -> str:
    """XR foot 3 views, sided when the side is known (LOINC 37699-6 / 36307-7, else 36305-1)."""
    return lookups.sided_orderable("xr-foot", "3-views", side)


def _advanced_drafts(ctx: NodeContext, modalities: frozenset[Modality]) -> list[DraftOrder]:
    return [
        d for d in lookups.considered_drafts(ctx.facts)
        if d.category == "imaging" and d.modality in modalities and lookups.is_foot_draft(d)
    ]


def initial_radiograph(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    evidence = [problem_evidence(p) for p in facts.problems]
    reasons = lookups.reason_references(facts)
    variables: dict[str, object] = {"lookback_days": ctx.limits.imaging_lookback_days}
    if "draft-advanced-imaging" in ctx.fired:
        drafts = _advanced_drafts(ctx, lookups.ADVANCED_MODALITIES)
        sides = {d.side for d in drafts if d.side in (Side.LEFT, Side.RIGHT)}
        side = sides.pop() if len(sides) == 1 else lookups.problem_side(facts)
        # The radiograph keeps the indication the clinician gave the study it replaces.
        indications = {json.dumps(c, sort_keys=True): c for d in drafts for c in (d.resource or {}).get("reasonCode", [])}
        xr = CreateOrder(orderable=radiograph_orderable(side), reason_references=reasons,
                         reason_codes=tuple(indications.values()))
        replace = ProposedSuggestion(
            key="replace-with-radiograph",
            label="Order a foot radiograph instead",
            actions=(*(DeleteDraft(resource_id=d.reference, label=d.label) for d in drafts), xr),
            is_recommended=True,
        )
        # Keeping the draft is an override (the card dismissed with one of the node's reasons), not a
        # suggestion: an accepted "keep" would be reported as if the radiograph came first.
        variables["drafts"] = [d.label for d in drafts]
        variables["possibly_foot"] = lookups.possibly_foot(drafts)
        return ctx.result(
            [*(draft_evidence(d) for d in drafts), *evidence],
            variables=variables,
            suggestions=(replace,),
            selection_behavior="at-most-one",
            override_reasons=ctx.node.override_reasons,
        )
    xr = CreateOrder(orderable=radiograph_orderable(lookups.problem_side(facts)), reason_references=reasons)
    return ctx.result(
        evidence,
        variables=variables,
        suggestions=(ProposedSuggestion(key="order-radiograph", label="Order XR foot, 3 views", actions=(xr,),
                                        is_recommended=True),),
        selection_behavior="at-most-one",
        override_reasons=("done-elsewhere", "other"),
    )


def _mentions_cppd(ctx: NodeContext) -> bool:
    if any(h.pattern == "cppd" for h in ctx.facts.morphology):
        return True
    concepts = " ".join((p.concept or "") + " " + p.label for p in ctx.facts.problems).lower()
    return any(word in concepts for word in CPPD_WORDS)


def advanced_imaging(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    reasons = lookups.reason_references(facts)
    if "draft-ct" in ctx.fired:
        drafts = _advanced_drafts(ctx, frozenset({Modality.CT}))
        sides = {d.side for d in drafts if d.side in (Side.LEFT, Side.RIGHT)}
        side = sides.pop() if len(sides) == 1 else lookups.problem_side(facts)
        evidence = [draft_evidence(d) for d in drafts]
        evidence += [e for e in (facts.osteomyelitis, facts.diabetes, facts.foot_ulcer) if e is not None]
        evidence += [infection_evidence(i) for i in facts.infections]
        mri = frozenset({Modality.MR})
        mri_exists = lookups.imaging_done_within(facts, mri, limits.imaging_lookback_days) or lookups.imaging_ordered(
            facts, mri
        )
        suggestions: tuple[ProposedSuggestion, ...] = ()
        if not mri_exists:
            swap = ProposedSuggestion(
                key="swap-ct-for-mri",
                label="Order MRI of the foot instead of CT",
                actions=(*(DeleteDraft(resource_id=d.reference, label=d.label) for d in drafts),
                         CreateOrder(orderable=lookups.sided_orderable("mr-foot", "wo", side), reason_references=reasons)),
                is_recommended=True,
            )
            suggestions = (swap,)
        return ctx.result(
            evidence,
            variables={"drafts": [d.label for d in drafts], "mri_exists": bool(mri_exists),
                       "possibly_foot": lookups.possibly_foot(drafts)},
            suggestions=suggestions,
            selection_behavior="at-most-one" if suggestions else None,
            override_reasons=ctx.node.override_reasons,
        )
    latest = lookups.latest_radiograph(facts)
    evidence = [imaging_evidence(latest)] if latest else []
    evidence += [problem_evidence(p) for p in facts.problems]
    deep = (
        bool(facts.infections)
        or infection_related(facts, limits)
        or has_osteomyelitis_diagnosis(facts, limits)
        or diabetic_foot_infection(facts, limits)
        or osteomyelitis_or_dfi_suspected(facts, limits)
        or facts.bone_destruction is not None
    )
    side = lookups.problem_side(facts)
    mass = any(p.kind == "soft-tissue-mass" for p in facts.problems)
    cppd = _mentions_cppd(ctx)
    # One recommended choice: MRI for deep or bone involvement, else US for a mass, else CT for the
    # calcification pattern, else MRI (seed 000 ref 1: the preferred advanced imaging).
    recommended = "mri" if deep else "us" if mass else "ct" if cppd else "mri"
    choices = (
        ("mri", "MRI of the foot", lookups.sided_orderable("mr-foot", "wo", side)),
        ("us", "Ultrasound of the soft tissue", "us-lower-extremity-soft-tissue"),
        ("ct", "CT of the foot", lookups.sided_orderable("ct-foot", "wo", side)),
    )
    suggestions = tuple(
        ProposedSuggestion(key=f"order-{key}", label=label,
                           actions=(CreateOrder(orderable=orderable, reason_references=reasons),),
                           is_recommended=key == recommended)
        for key, label, orderable in choices
    )
    return ctx.result(
        evidence,
        variables={"recommended": recommended, "deep": deep, "mass": mass, "cppd": cppd,
                   "lookback_days": limits.imaging_lookback_days},
        suggestions=suggestions,
        selection_behavior="at-most-one",
    )

