"""Management nodes: `surgical-referral`, `malignancy-referral` and `conservative-care` (seed 000,
"Surgical Management" and "Conservative Management")."""

from __future__ import annotations

from cds_service.facts.model import Evidence, Modality
from cds_service.pathway import lookups
from cds_service.pathway.context import NodeContext, infection_evidence, problem_evidence
from cds_service.pathway.questions import (
    not_responding_to_conservative_care,
    osteomyelitis_with_spreading_infection,
    progressive_bone_destruction,
)
from cds_service.pathway.result import CreateOrder, NodeResult, ProposedSuggestion

__all__ = ["conservative_care", "malignancy_referral", "surgical_referral"]


def _reasons(evidence: list[Evidence]) -> tuple[str, ...]:
    refs = [e.reference for e in evidence if e.reference and e.reference.startswith(("Condition/", "Observation/",
                                                                                      "DiagnosticReport/"))]
    return tuple(dict.fromkeys(refs))


def surgical_referral(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    scenarios: list[str] = []
    evidence: list[Evidence] = []
    if not_responding_to_conservative_care(facts, limits):
        scenarios.append("not-responding")
        evidence += [problem_evidence(p) for p in facts.problems if p.kind == "calcification" and p.active]
        evidence.append(facts.foot_pain)  # type: ignore[arg-type]  # set when the question holds
    if osteomyelitis_with_spreading_infection(facts, limits):
        scenarios.append("osteomyelitis-spreading")
        evidence += [e for e in (facts.osteomyelitis,) if e is not None]
        evidence += [infection_evidence(i) for i in facts.infections]
    if progressive_bone_destruction(facts, limits):
        scenarios.append("bone-destruction")
        evidence.append(facts.bone_destruction)  # type: ignore[arg-type]
    reasons = _reasons(evidence)
    choices = (("orthopedics", "referral-orthopedics", "Refer to an orthopedic surgeon"),
               ("podiatry", "referral-podiatry", "Refer to a podiatrist"))
    already = any(lookups.referral_ordered(facts, kind) for kind, _, _ in choices)
    suggestions = () if already else tuple(
        ProposedSuggestion(key=f"refer-{kind}", label=label,
                           actions=(CreateOrder(orderable=orderable, reason_references=reasons),))
        for kind, orderable, label in choices
    )
    return ctx.result(
        evidence,
        variables={"scenarios": scenarios, "min_weeks": limits.conservative_care_min_weeks},
        suggestions=suggestions,
        selection_behavior="at-most-one" if suggestions else None,
    )


def malignancy_referral(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    evidence = list(facts.malignancy) + [h.evidence for h in facts.morphology if h.malignant]
    reasons = _reasons(evidence) or lookups.reason_references(facts)
    suggestions = []
    if not lookups.referral_ordered(facts, "orthopedics"):
        suggestions.append(ProposedSuggestion(
            key="refer-orthopedics-urgent", label="Urgent referral to an orthopedic surgeon",
            actions=(CreateOrder(orderable="referral-orthopedics", reason_references=reasons, priority="urgent"),),
            is_recommended=True))
    mri = frozenset({Modality.MR})
    if not (lookups.imaging_done_within(facts, mri, limits.imaging_lookback_days) or lookups.imaging_ordered(facts, mri)):
        suggestions.append(ProposedSuggestion(
            key="order-mri-urgent", label="Urgent MRI of the foot",
            actions=(CreateOrder(orderable=lookups.sided_orderable("mr-foot", "wo", lookups.problem_side(facts)),
                                 reason_references=reasons, priority="urgent"),),
            is_recommended=True))
    return ctx.result(evidence, suggestions=tuple(suggestions), selection_behavior="any" if suggestions else None)


def conservative_care(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    evidence = [problem_evidence(p) for p in facts.problems]
    if facts.foot_pain is not None:
        evidence.append(facts.foot_pain)
    suggestions: tuple[ProposedSuggestion, ...] = ()
    if not lookups.referral_ordered(facts, "physiotherapy"):
        order = CreateOrder(orderable="referral-physiotherapy", reason_references=lookups.reason_references(facts))
        suggestions = (ProposedSuggestion(key="refer-physiotherapy", label="Refer to physiotherapy",
                                          actions=(order,)),)
    variables = {"symptomatic": facts.foot_pain is not None, "physiotherapy_ordered": not suggestions}
    return ctx.result(evidence, variables=variables, suggestions=suggestions,
                      selection_behavior="at-most-one" if suggestions else None)
