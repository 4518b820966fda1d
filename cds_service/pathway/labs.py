"""Laboratory nodes: `metabolic-workup` and `metabolic-cause` (seed 000, "Metabolic Disorders")."""

from __future__ import annotations

from cds_service.facts.model import CalcificationClass, LabTest
from cds_service.pathway import lookups
from cds_service.pathway.context import LAB_NAMES, NodeContext, draft_evidence, lab_evidence, problem_evidence
from cds_service.pathway.questions import abnormal_metabolic_labs
from cds_service.pathway.result import CreateOrder, DeleteDraft, NodeResult, ProposedSuggestion

__all__ = ["metabolic_cause", "metabolic_workup"]


def _class_evidence(ctx: NodeContext) -> list:
    c = ctx.facts.classification
    if c is None:
        return list(ctx.facts.metabolic_conditions)
    return [e for cls in (CalcificationClass.METASTATIC, CalcificationClass.UNDETERMINED) for e in c.evidence.get(cls, ())]


def metabolic_workup(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    missing = lookups.missing_metabolic_tests(facts, limits) if "missing-tests" in ctx.fired else []
    duplicates = []
    if "draft-duplicate-lab" in ctx.fired:
        for draft in lookups.considered_drafts(facts):
            last = lookups.lab_within(facts, draft.lab_test, limits.duplicate_lab_window_days) if draft.lab_test else None
            if last is not None:
                duplicates.append((draft, last))
    if not missing and not duplicates:
        return None
    reasons = lookups.reason_references(facts)
    suggestions = [
        ProposedSuggestion(key=f"order-{orderable}", label=f"Order {name}",
                           actions=(CreateOrder(orderable=orderable, reason_references=reasons),), is_recommended=True)
        for name, orderable in missing
    ]
    suggestions += [
        ProposedSuggestion(key=f"remove-{draft.reference}", label=f"Remove the duplicate {LAB_NAMES[last.test]} order",
                           actions=(DeleteDraft(resource_id=draft.reference, label=draft.label),))
        for draft, last in duplicates
    ]
    evidence = [*(draft_evidence(d) for d, _ in duplicates), *(lab_evidence(r) for _, r in duplicates)]
    if missing:  # why the work-up is asked for; a duplicate-only card shows just the draft and its last result
        present = [
            lab_evidence(r)
            for test in (LabTest.CALCIUM, LabTest.PHOSPHATE, LabTest.PTH, LabTest.CREATININE, LabTest.EGFR)
            if (r := lookups.lab_within(facts, test, limits.lab_lookback_days)) is not None
        ]
        evidence += [*(problem_evidence(p) for p in facts.problems), *_class_evidence(ctx), *present]
    variables = {
        "missing": [name for name, _ in missing],
        "duplicates": [{"draft": d.label, "last": lab_evidence(r).label, "when": r.when} for d, r in duplicates],
        "classes": sorted(c.value for c in lookups.calcification_classes(facts)),
        "lookback_days": limits.lab_lookback_days,
        "duplicate_days": limits.duplicate_lab_window_days,
    }
    return ctx.result(evidence, variables=variables, suggestions=tuple(suggestions), selection_behavior="any",
                      override_reasons=ctx.node.override_reasons if duplicates else ())


def metabolic_cause(ctx: NodeContext) -> NodeResult | None:
    facts, limits = ctx.facts, ctx.limits
    labs = abnormal_metabolic_labs(facts, limits)
    conditions = list(facts.metabolic_conditions)
    kinds = facts.metabolic_kinds
    renal = any(r.test is LabTest.EGFR for r in labs) or "renal" in kinds
    endocrine = any(r.test in (LabTest.PTH, LabTest.VITAMIN_D) for r in labs) or bool(kinds & {"parathyroid", "vitamin-d"})
    if not renal and (any(r.test in (LabTest.CALCIUM, LabTest.PHOSPHATE) for r in labs) or "calcium-phosphate" in kinds):
        endocrine = True  # abnormal calcium/phosphate without kidney disease: endocrinology (local default)
    referrals = []
    if renal:
        referrals.append(("nephrology", "referral-nephrology", "Refer to nephrology"))
    if endocrine:
        referrals.append(("endocrinology", "referral-endocrinology", "Refer to endocrinology"))
    reasons = tuple(dict.fromkeys(
        [e.reference for e in conditions if e.reference and e.reference.startswith("Condition/")]
        + [r.reference for r in labs if r.reference.startswith("Observation/")]
    ))
    suggestions = tuple(
        ProposedSuggestion(key=f"refer-{kind}", label=label,
                           actions=(CreateOrder(orderable=orderable, reason_references=reasons),), is_recommended=True)
        for kind, orderable, label in referrals
        if not lookups.referral_ordered(facts, kind)
    )
    return ctx.result(
        [*(lab_evidence(r) for r in labs), *conditions],
        variables={"renal": renal, "endocrine": endocrine},
        suggestions=suggestions,
        selection_behavior="any" if suggestions else None,
    )
