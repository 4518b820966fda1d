"""Snooze after an override: a step between the pathway and the cards.

When a clinician overrides a card with a coded reason, its node is not shown again for that patient for
`snooze_days` (the pathway configuration; 0 turns snoozing off), whatever the hook, worker or instance
(the store), unless the card now rests on evidence it did not rest on then: a new result, a new problem.

"Evidence" is the card's own evidence list (each item: the resource reference and its date), less the
draft orders of the call, which are the order session rather than the patient's record; so a card
overridden at patient-view stays snoozed when the same node fires at order-sign for the same record.
Local defaults: critical cards are never snoozed unless the node says `snooze = true`; an override
without a coded reason (a comment alone) snoozes nothing.

The store being out of reach never costs the clinician a card: the step then shows every card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from cds_service.facts.model import Facts
from cds_service.guideline.config import PathwayConfig
from cds_service.pathway.result import NodeResult
from cds_service.store.snooze import SnoozeStore

__all__ = ["SnoozeGate", "evidence_items"]

log = logging.getLogger("cds_service.snooze")


def evidence_items(result: NodeResult, facts: Facts) -> list[str]:
    """The record items a card rests on, as "reference|date" (or the label, for an item without one)."""
    drafts = {order.reference for order in facts.draft_orders}
    items = []
    for evidence in result.evidence:
        if evidence.reference in drafts:
            continue
        when = evidence.when.isoformat() if evidence.when else ""
        items.append(f"{evidence.reference}|{when}" if evidence.reference else f"label:{evidence.label}|{when}")
    return items


@dataclass(frozen=True, slots=True)
class SnoozeGate:
    store: SnoozeStore
    config: PathwayConfig
    # False: read the snoozes, write nothing (explain mode: an explanation changes no state, so explaining a
    # chart neither records evidence for a later override nor counts a node as snoozed in the report).
    record: bool = True

    def read_only(self) -> "SnoozeGate":
        return replace(self, record=False)

    def apply(
        self, results: list[NodeResult], facts: Facts, *, service_id: str, hook_instance: str
    ) -> list[NodeResult]:
        """`results` less the snoozed nodes; records the evidence of those kept and the nodes snoozed (unless
        `record` is False)."""
        days = self.config.snooze_days
        if days <= 0 or not results:
            return results
        local = self.config.local
        keys = {r.node_id: self.store.evidence_keys(facts.patient_id, evidence_items(r, facts)) for r in results}
        snoozable = [r.node_id for r in results if local.snoozable(r.node_id, r.indicator)]
        try:
            active = self.store.active_snoozes(facts.patient_id, snoozable, days=days)
        except SQLAlchemyError as exc:
            log.error("snoozes not read (%s): every card is shown", type(exc).__name__)
            return results
        snoozed: dict[str, str] = {}
        for snooze in active:
            # Snoozed while the card rests on nothing the overridden card did not rest on.
            if snooze.node_id in snoozable and keys[snooze.node_id] <= snooze.evidence:
                snoozed.setdefault(snooze.node_id, snooze.card_uuid)
        kept = [r for r in results if r.node_id not in snoozed]
        if not self.record:
            return kept
        # Off the answer's path: the clinician does not wait for this commit.
        self.store.record_call_later(
            service_id=service_id,
            hook_instance=hook_instance,
            evidence={r.node_id: keys[r.node_id] for r in kept},
            snoozed=snoozed,
        )
        return kept
