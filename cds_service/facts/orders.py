"""Draft orders (order hooks) and active orders, read as `DraftOrder`s; and spec entry 4: a draft foot/ankle
imaging order whose reason is a calcification or soft tissue mass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from cds_service.facts.access import codings, concepts, get, items, ref_of, resource_type_of
from cds_service.facts.conditions import onset_start
from cds_service.facts.dates import to_date
from cds_service.facts.model import DraftOrder, LabTest, Modality, Problem, Side
from cds_service.facts.recognise import (
    body_site_elsewhere,
    display_of,
    foot_site,
    imaging_kind,
    lab_test_of,
    reason_place,
)
from cds_service.facts.text import label_of, match_concepts, side_in_text
from cds_service.guideline.valuesets import ValueSets

__all__ = ["ORDER_HOOKS", "draft_order_problems", "read_order"]

ORDER_HOOKS = frozenset({"order-select", "order-sign"})
_PROCEDURE_SETS = (
    ("debridement", "debridement"),
    ("incision-drainage", "incision-drainage"),
    ("probe-to-bone", "probe-to-bone"),
)
_REASON_SETS = ("calcification-foot-site", "calcification-concept", "soft-tissue-mass-foot", "soft-tissue-mass")


def order_reason_place(
    order: Any, valuesets: ValueSets, resolve: Callable[[str], Any] | None = None
) -> str | None:
    """ "foot" / "elsewhere" / None: the site the order's reasons name, from its reasonCode and from the
    Conditions (or reports) its reasonReference points to: their code and, for a Condition, its bodySite."""
    reasons = list(concepts(order, "reasonCode"))
    elsewhere = False
    for reference in (ref_of(x) for x in items(order, "reasonReference")):
        target = resolve(reference) if resolve is not None and reference else None
        if target is None:
            continue
        if foot_site(target, valuesets=valuesets) is not None:
            return "foot"
        elsewhere = elsewhere or body_site_elsewhere(target, valuesets)
        reasons.extend(concepts(target, "code", "conclusionCode"))
    return reason_place(reasons, valuesets) or ("elsewhere" if elsewhere else None)


def read_order(
    order: Any,
    *,
    selected: bool,
    valuesets: ValueSets,
    raw: dict[str, Any] | None = None,
    resolve: Callable[[str], Any] | None = None,
) -> DraftOrder:
    """One order as a DraftOrder. `resolve` finds the record's resource for a reasonReference ("Condition/x"),
    so that a reason naming another site (a knee injury) is read."""
    resource_type = resource_type_of(order)
    reference = f"{resource_type}/{get(order, 'id')}"
    code = get(order, "code") or get(order, "medicationCodeableConcept")
    label = label_of(code) or display_of([code], valuesets) or resource_type
    common: dict[str, Any] = {
        "reference": reference,
        "resource_type": resource_type,
        "label": label,
        "selected": selected,
        "occurrence": to_date(get(order, "occurrenceDateTime"))
        or to_date(get(get(order, "occurrencePeriod"), "start")),
        "reason_references": tuple(r for r in (ref_of(x) for x in items(order, "reasonReference")) if r),
        "status": get(order, "status"),
        "code": tuple((s, c) for s, c in codings(code) if s and c),
        "resource": raw,
    }
    if resource_type != "ServiceRequest":
        return DraftOrder(category="other", **common)
    kind = imaging_kind(order, resource_type, valuesets, unsited=True)
    if kind is not None and kind.possibly_foot and order_reason_place(order, valuesets, resolve) == "elsewhere":
        # Another site in the reason outranks "lower extremity, possibly the foot": a knee MRI (CPT 73721 "any
        # joint of lower extremity", reason "Injury of knee") is not foot imaging, so no card and no
        # delete/replace suggestion is made about it.
        return DraftOrder(category="other", **common)
    if kind is not None:
        return DraftOrder(
            category="imaging",
            modality=kind.modality,
            body_site=kind.body_site,
            side=Side(kind.side) if kind.side else None,
            possibly_foot=kind.possibly_foot,
            **common,
        )
    test = lab_test_of(order, valuesets)
    if test is not None:
        return DraftOrder(category="lab", lab_test=LabTest(test), **common)
    referral = match_concepts(valuesets["referral"], [code])
    if referral is not None and referral.member is not None:
        return DraftOrder(category="referral", referral=referral.member.concept, **common)
    for name, procedure in _PROCEDURE_SETS:
        if match_concepts(valuesets[name], [code]) is not None:
            # "No site given" and "another site" are different answers: only the first may be the foot. With no
            # bodySite, the reason may give the site (a debridement for a knee wound is not of the foot).
            site = foot_site(order, valuesets=valuesets)
            if site is None and body_site_elsewhere(order, valuesets):
                site = "elsewhere"
            if site is None:
                site = order_reason_place(order, valuesets, resolve)
            return DraftOrder(category="procedure", procedure=procedure, body_site=site, **common)
    if match_concepts(valuesets["follow-up"], [code]) is not None:
        return DraftOrder(category="follow-up", **common)
    return DraftOrder(category="other", **common)


def draft_order_problems(
    orders: list[tuple[DraftOrder, Any]], resources: dict[str, Any], valuesets: ValueSets,
    foot_problems: frozenset[str] = frozenset(), birth_date: date | None = None,
) -> list[Problem]:
    """Spec entry 4: a selected draft foot/ankle imaging order whose reasonCode, or a reasonReference to a
    Condition/Observation/DiagnosticReport of the record, names a calcification or soft tissue mass
    (the order itself supplies the foot site). An order coded for the lower extremity without a site
    qualifies only when its reason names the foot: a reasonCode whose code carries the foot site, or a
    reasonReference to one of `foot_problems` (the record's in-pathway problems)."""
    problems: list[Problem] = []
    for order, model in orders:
        if not order.selected or order.category != "imaging" or order.modality not in set(Modality):
            continue
        for name in _REASON_SETS:
            found = match_concepts(valuesets[name], concepts(model, "reasonCode"))
            if found is not None:
                if order.possibly_foot and not (found.member is not None and found.member.site == "foot"):
                    continue
                side = (found.member.side if found.member else None) or (order.side.value if order.side else None)
                problems.append(
                    Problem(
                        reference=order.reference,
                        kind="draft-order-reason",
                        label=label_of(*concepts(model, "reasonCode"), fallback=order.label),
                        concept=found.concept,
                        side=Side(side) if side else None,
                        matched_by_text=found.by_text,
                        body_site=order.body_site or "foot",
                    )
                )
                break
        for reference in order.reason_references:
            target = resources.get(reference)
            if target is None or (order.possibly_foot and reference not in foot_problems):
                continue
            for name in _REASON_SETS:
                found = match_concepts(
                    valuesets[name], concepts(target, "code", "valueCodeableConcept", "conclusionCode")
                )
                if found is None:
                    continue
                texts = [label_of(get(target, "code"), fallback="")]
                side = (
                    (found.member.side if found.member else None)
                    or side_in_text(*texts)
                    or (order.side.value if order.side else None)
                )
                onset = onset_start(target, birth_date)
                problems.append(
                    Problem(
                        reference=reference,
                        kind="draft-order-reason",
                        label=label_of(get(target, "code"), fallback=order.label),
                        concept=found.concept,
                        side=Side(side) if side else None,
                        onset=onset,
                        recorded=to_date(get(target, "recordedDate")),
                        matched_by_text=found.by_text,
                        body_site=order.body_site or "foot",
                    )
                )
                break
    return problems
