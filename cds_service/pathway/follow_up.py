"""Follow-up nodes: `repeat-radiograph` and `dfi-reassessment` (seed 000, "Follow-up Recommendations")."""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.facts.model import DraftOrder, Facts, Modality
from cds_service.guideline.config import PathwayConfig
from cds_service.pathway import lookups
from cds_service.pathway.context import (
    NodeContext,
    draft_evidence,
    imaging_evidence,
    infection_evidence,
    problem_evidence,
)
from cds_service.pathway.imaging import radiograph_orderable
from cds_service.pathway.result import (
    CreateOrder,
    DeleteDraft,
    NodeResult,
    OrderAction,
    ProposedSuggestion,
    UpdateDraftOccurrence,
)

__all__ = ["dfi_reassessment", "repeat_radiograph", "repeat_window"]


def repeat_window(last: date, today: date, limits: PathwayConfig) -> tuple[date, date]:
    """Days 14-28 after the last radiograph; from today when day 14 is past (and then as wide as the
    window would have been when day 28 is past too)."""
    start = last + timedelta(days=limits.repeat_xr_min_days)
    end = last + timedelta(days=limits.repeat_xr_max_days)
    if start < today:
        start = today
        if end < start:
            end = today + timedelta(days=limits.repeat_xr_max_days - limits.repeat_xr_min_days)
    return start, end


def repeat_radiograph(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    latest = lookups.latest_radiograph(facts)
    if latest is None or latest.when is None:
        return None
    start, end = repeat_window(latest.when, facts.today, ctx.limits)
    evidence = [imaging_evidence(latest), *(problem_evidence(p) for p in facts.problems if p.active)]
    variables = {"last_radiograph": latest.when, "window_start": start, "window_end": end,
                 "min_days": ctx.limits.repeat_xr_min_days, "max_days": ctx.limits.repeat_xr_max_days}
    if "draft-early-repeat" in ctx.fired:
        earliest = latest.when + timedelta(days=ctx.limits.repeat_xr_min_days)
        drafts = [
            d for d in lookups.considered_drafts(facts)
            if d.category == "imaging" and d.modality is Modality.XR and lookups.is_foot_draft(d)
            and (d.occurrence or facts.today) < earliest
        ]
        suggestions = tuple(
            ProposedSuggestion(
                key=f"reschedule-{d.reference}",
                label=f"Schedule the radiograph {start.isoformat()} to {end.isoformat()}",
                actions=_reschedule(d, start, end, facts),
                is_recommended=True,
            )
            for d in drafts
        )
        return ctx.result([*(draft_evidence(d) for d in drafts), *evidence], variables=variables,
                          suggestions=suggestions, selection_behavior="any",
                          override_reasons=("clinically-indicated-repeat", "other"))
    order = CreateOrder(
        orderable=radiograph_orderable(lookups.problem_side(facts)),
        reason_references=lookups.reason_references(facts),
        occurrence_start=start,
        occurrence_end=end,
    )
    suggestion = ProposedSuggestion(
        key="order-repeat-radiograph",
        label=f"Repeat XR foot {start.isoformat()} to {end.isoformat()}",
        actions=(order,),
        is_recommended=True,
    )
    return ctx.result(evidence, variables=variables, suggestions=(suggestion,), selection_behavior="at-most-one")


def _reschedule(draft: DraftOrder, start: date, end: date, facts: Facts) -> tuple[OrderAction, ...]:
    """Update the draft when its resource came with the request; otherwise replace it by a dated order."""
    if draft.resource is not None:
        return (UpdateDraftOccurrence(draft_reference=draft.reference, label=draft.label, start=start, end=end),)
    replacement = CreateOrder(orderable=radiograph_orderable(draft.side or lookups.problem_side(facts)),
                              reason_references=lookups.reasons_only(draft.reason_references)
                              or lookups.reason_references(facts),
                              occurrence_start=start, occurrence_end=end)
    return (DeleteDraft(resource_id=draft.reference, label=draft.label), replacement)


def dfi_reassessment(ctx: NodeContext) -> NodeResult | None:
    facts = ctx.facts
    start = facts.today + timedelta(days=ctx.limits.dfi_reassess_min_days)
    end = facts.today + timedelta(days=ctx.limits.dfi_reassess_max_days)
    evidence = [e for e in (facts.diabetic_foot_infection, facts.diabetes) if e is not None]
    evidence += [infection_evidence(i) for i in facts.infections]
    references = tuple(dict.fromkeys(i.reference for i in facts.infections if i.reference.startswith("Condition/")))
    suggestions: tuple[ProposedSuggestion, ...] = ()
    if not lookups.follow_up_ordered(facts):
        visit = CreateOrder(orderable="follow-up-visit", reason_references=references,
                            occurrence_start=start, occurrence_end=end)
        suggestions = (ProposedSuggestion(
            key="schedule-reassessment",
            label=f"Follow-up visit {start.isoformat()} to {end.isoformat()}",
            actions=(visit,),
            is_recommended=True,
        ),)
    return ctx.result(evidence, variables={"window_start": start, "window_end": end},
                      suggestions=suggestions, selection_behavior="at-most-one" if suggestions else None)
