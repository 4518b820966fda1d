"""Diabetic-foot and infection nodes: `osteomyelitis-rule-out`, `eschar-no-debridement`,
`infection-management`, `urgent-surgery` (seed 000, "Diabetic Foot" and "Infection-Related Calcifications")."""

from __future__ import annotations

from cds_service.facts.model import CalcificationClass, LabTest
from cds_service.pathway import lookups
from cds_service.pathway.context import NodeContext, draft_evidence, infection_evidence, lab_evidence
from cds_service.pathway.result import CreateOrder, NodeResult, ProposedSuggestion

__all__ = ["eschar_no_debridement", "infection_management", "osteomyelitis_rule_out", "urgent_surgery"]


def _condition_refs(evidence: list) -> tuple[str, ...]:
    return tuple(dict.fromkeys(e.reference for e in evidence if e.reference and e.reference.startswith("Condition/")))


def osteomyelitis_rule_out(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    outstanding = lookups.outstanding_osteomyelitis_studies(facts, limits)
    if not outstanding:
        return None
    evidence = [e for e in (facts.diabetes, facts.foot_ulcer) if e is not None]
    evidence += [infection_evidence(i) for i in facts.infections]
    done = [lab_evidence(r) for t in (LabTest.ESR, LabTest.CRP)
            if (r := lookups.lab_within(facts, t, limits.infection_lab_lookback_days)) is not None]
    if facts.probe_to_bone_done is not None:
        done.append(facts.probe_to_bone_done)
    reasons = _condition_refs(evidence)
    suggestions = tuple(
        ProposedSuggestion(key=f"order-{orderable}", label=f"Order {name}",
                           actions=(CreateOrder(orderable=orderable, reason_references=reasons),), is_recommended=True)
        for name, orderable in outstanding
    )
    return ctx.result(
        [*evidence, *done],
        variables={"outstanding": [name for name, _ in outstanding], "mri_step": outstanding[0][1].startswith("mr-foot"),
                   "lookback_days": limits.infection_lab_lookback_days},
        suggestions=suggestions,
        selection_behavior="any",
    )


def eschar_no_debridement(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    evidence = [e for e in (facts.eschar, facts.ischemia) if e is not None]
    drafts = []
    if "draft-debridement" in ctx.fired:
        drafts = [d for d in lookups.considered_drafts(facts) if d.procedure == "debridement"]
    return ctx.result(
        [*(draft_evidence(d) for d in drafts), *evidence],
        variables={"drafts": [d.label for d in drafts]},
        override_reasons=ctx.node.override_reasons if drafts else (),
    )


def infection_management(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    c = facts.classification
    evidence = [infection_evidence(i) for i in facts.infections]
    if c is not None:
        evidence += list(c.evidence.get(CalcificationClass.INFECTION, ()))
    culture = lookups.lab_within(facts, LabTest.CULTURE, limits.infection_lab_lookback_days)
    if culture is not None:
        evidence.append(lab_evidence(culture))
    severities = {i.severity for i in facts.infections}
    severity = "severe" if "severe" in severities else "moderate" if "moderate" in severities else None
    reasons = _condition_refs(evidence)
    suggestions = []
    if culture is None and not lookups.lab_ordered(facts, LabTest.CULTURE):
        suggestions.append(ProposedSuggestion(
            key="order-culture", label="Order a wound/tissue culture",
            actions=(CreateOrder(orderable="lab-wound-culture", reason_references=reasons),), is_recommended=True))
    # Seed: consultation in selected moderate and all severe infections. When urgent-surgery fires, its stat
    # referral is the one offer and this card names it (evaluate: one offer per order).
    if severity and not lookups.referral_ordered(facts, "surgery"):
        suggestions.append(ProposedSuggestion(
            key="refer-surgeon", label="Surgical consultation",
            actions=(CreateOrder(orderable="referral-surgeon", reason_references=reasons),),
            is_recommended=severity == "severe"))
    return ctx.result(
        evidence,
        variables={"severity": severity, "culture_done": culture is not None,
                   "lookback_days": limits.infection_lab_lookback_days},
        suggestions=tuple(suggestions),
        selection_behavior="any" if suggestions else None,
    )


def urgent_surgery(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    evidence = list(facts.urgent_surgical)
    suggestions: tuple[ProposedSuggestion, ...] = ()
    if not lookups.referral_ordered(facts, "surgery"):
        order = CreateOrder(orderable="referral-surgeon", reason_references=_condition_refs(evidence), priority="stat")
        suggestions = (ProposedSuggestion(key="refer-surgeon-stat", label="Urgent referral to surgeon (stat)",
                                          actions=(order,), is_recommended=True),)
    return ctx.result(evidence, suggestions=suggestions, selection_behavior="at-most-one" if suggestions else None)
