"""Per pathway node: cards issued, how many were accepted or overridden, why they were overridden, and how
many were not shown because an earlier override snoozed the node.

A card counts once as accepted (or overridden) however many feedback entries it received; override
reasons count the distinct cards overridden for that reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, distinct, func, select

from cds_service.store.models import FeedbackRecord, IssuedCard
from cds_service.store.snooze_report import snoozed_counts

__all__ = ["NO_NODE", "NO_REASON", "NodeReport", "OverrideReasonCount", "build_report", "format_table"]

NO_NODE = "(no node)"  # cards without source.topic
NO_REASON = "(no reason given)"


@dataclass(frozen=True, slots=True)
class OverrideReasonCount:
    system: str | None
    code: str | None
    display: str | None
    cards: int

    def label(self) -> str:
        if self.code is None:
            return NO_REASON
        text = f"{self.code}"
        if self.display:
            text += f" {self.display}"
        return f"{text} ({self.system})" if self.system else text


@dataclass(frozen=True, slots=True)
class NodeReport:
    node_id: str
    issued: int
    accepted: int
    overridden: int
    without_feedback: int
    override_reasons: list[OverrideReasonCount] = field(default_factory=list)
    snoozed: int = 0  # cards not shown because of a snooze (they are not counted as issued)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build_report(connection: Connection, *, service_id: str | None = None) -> list[NodeReport]:
    node = func.coalesce(IssuedCard.node_id, NO_NODE).label("node")
    card_filter = [IssuedCard.service_id == service_id] if service_id else []

    issued = dict(connection.execute(select(node, func.count()).where(*card_filter).group_by(node)).all())

    def cards_with(outcome: str) -> dict[str, int]:
        query = (
            select(node, func.count(distinct(FeedbackRecord.card_uuid)))
            .join(IssuedCard, IssuedCard.uuid == FeedbackRecord.card_uuid)
            .where(FeedbackRecord.outcome == outcome, *card_filter)
            .group_by(node)
        )
        return dict(connection.execute(query).all())

    accepted = cards_with("accepted")
    overridden = cards_with("overridden")
    answered = dict(
        connection.execute(
            select(node, func.count(distinct(FeedbackRecord.card_uuid)))
            .join(IssuedCard, IssuedCard.uuid == FeedbackRecord.card_uuid)
            .where(*card_filter)
            .group_by(node)
        ).all()
    )
    reasons: dict[str, list[OverrideReasonCount]] = {}
    reason_rows = connection.execute(
        select(
            node,
            FeedbackRecord.override_reason_system,
            FeedbackRecord.override_reason_code,
            func.max(FeedbackRecord.override_reason_display),
            func.count(distinct(FeedbackRecord.card_uuid)),
        )
        .join(IssuedCard, IssuedCard.uuid == FeedbackRecord.card_uuid)
        .where(FeedbackRecord.outcome == "overridden", *card_filter)
        .group_by(node, FeedbackRecord.override_reason_system, FeedbackRecord.override_reason_code)
    ).all()
    for node_id, system, code, display, count in reason_rows:
        reasons.setdefault(node_id, []).append(OverrideReasonCount(system, code, display, count))
    snoozed = snoozed_counts(connection, service_id=service_id)

    return [
        NodeReport(
            node_id=node_id,
            issued=count,
            accepted=accepted.get(node_id, 0),
            overridden=overridden.get(node_id, 0),
            without_feedback=count - answered.get(node_id, 0),
            override_reasons=sorted(reasons.get(node_id, []), key=lambda r: (-r.cards, r.label())),
            snoozed=snoozed.get(node_id, 0),
        )
        for node_id, count in sorted({**dict.fromkeys(snoozed, 0), **issued}.items())
    ]


def format_table(report: list[NodeReport]) -> str:
    """A plain-text table, one row per node, each node's override reasons indented under it."""
    if not report:
        return "No cards issued yet."
    headers = ("node", "issued", "accepted", "overridden", "no feedback", "snoozed")
    rows = [
        (r.node_id, str(r.issued), str(r.accepted), str(r.overridden), str(r.without_feedback), str(r.snoozed))
        for r in report
    ]
    totals = ("TOTAL", *(str(sum(int(row[i]) for row in rows)) for i in range(1, len(headers))))
    widths = [max(len(line[i]) for line in (headers, *rows, totals)) for i in range(len(headers))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(cell.rjust(width) for cell, width in zip(cells[1:], widths[1:]))]).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    for report_row, row in zip(report, rows):
        out.append(line(row))
        for reason in report_row.override_reasons:
            out.append(f"    override reason: {reason.label()}: {reason.cards}")
    out.append("  ".join("-" * w for w in widths))
    out.append(line(totals))
    return "\n".join(out)
