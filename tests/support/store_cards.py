"""Cards as the renderer issues them (response JSON, checked against the protocol models), built directly,
so store tests need no pathway run."""

from __future__ import annotations

import uuid
from typing import Any

from cds_service.protocol.response import Card, Coding, Source, Suggestion

__all__ = ["NODE_SYSTEM", "accepted", "make_card", "overridden"]

NODE_SYSTEM = "https://cds.test.example/pathway"
REASON_SYSTEM = "https://cds.test.example/override-reasons"
JSON = dict[str, Any]


def make_card(node_id: str, *, suggestions: int = 1) -> JSON:
    items = tuple(Suggestion(label=f"suggestion {i}", uuid=str(uuid.uuid4())) for i in range(suggestions))
    return Card(
        uuid=str(uuid.uuid4()),
        summary=f"card of node {node_id}",
        indicator="info",
        source=Source(label="Foot calcification pathway", topic=Coding(system=NODE_SYSTEM, code=node_id)),
        suggestions=items or None,
        selectionBehavior="at-most-one" if items else None,
    ).model_dump(mode="json", exclude_none=True)


def accepted(card: JSON, *, at: str = "2026-11-21T10:00:00Z", which: int = 0) -> dict[str, Any]:
    assert card.get("suggestions")
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][which]["uuid"]}],
        "outcomeTimestamp": at,
    }


def overridden(card: JSON, *, at: str = "2026-11-21T10:00:00Z", code: str | None = "not-relevant",
               comment: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": at}
    reason: dict[str, Any] = {}
    if code is not None:
        reason["reason"] = {"system": REASON_SYSTEM, "code": code, "display": code.title()}
    if comment is not None:
        reason["userComment"] = comment
    if reason:
        entry["overrideReason"] = reason
    return entry
