"""PLACEHOLDER (helper D replaces): node results -> cards."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderContext:
    base_url: str
    service_id: str
    hook_instance: str


def render_cards(results, facts, context: RenderContext) -> list:  # type: ignore[no-untyped-def]
    return []
