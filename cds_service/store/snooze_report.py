"""Snoozed cards for the feedback report: counts per node, and when each was snoozed (for the charts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from cds_service.store.models import SnoozedCard

__all__ = ["snoozed_counts", "snoozed_times"]


def snoozed_counts(connection: Connection, *, service_id: str | None = None) -> dict[str, int]:
    """Node -> cards not shown because of a snooze."""
    query = select(SnoozedCard.node_id, func.count()).group_by(SnoozedCard.node_id)
    if service_id:
        query = query.where(SnoozedCard.service_id == service_id)
    return dict(connection.execute(query).all())


def snoozed_times(connection: Connection, *, service_id: str | None = None) -> list[tuple[str, datetime]]:
    """(node, when) of every snoozed card, for the report's charts."""
    query = select(SnoozedCard.node_id, SnoozedCard.snoozed_at)
    if service_id:
        query = query.where(SnoozedCard.service_id == service_id)
    return [(node, when) for node, when in connection.execute(query)]
