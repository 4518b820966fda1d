"""One offer per order in a response: when two cards would suggest the same order, one card offers it and
the other says where it is (`nodes.toml` [one_offer_per_order], a local default).

The offer stays with the first card of the response (most urgent first), unless a later card's suggestion
replaces a draft order with it: accepting that one both removes the draft and orders the study, so it is
the better single offer. A suggestion is dropped only when every order it creates is offered elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cds_service.pathway.result import CreateOrder, NodeResult, OfferedElsewhere, ProposedSuggestion

__all__ = ["one_offer_per_order"]


def _orders(suggestion: ProposedSuggestion, group: Callable[[str], str]) -> frozenset[str]:
    return frozenset(group(a.orderable) for a in suggestion.actions if isinstance(a, CreateOrder))


def _replaces_a_draft(suggestion: ProposedSuggestion) -> bool:
    return any(not isinstance(a, CreateOrder) for a in suggestion.actions)


def one_offer_per_order(results: list[NodeResult], group: Callable[[str], str]) -> list[NodeResult]:
    """`results` in response order; `group` maps an orderable to the order it counts as."""
    candidates = [(index, s) for index, result in enumerate(results) for s in result.suggestions]
    owner: dict[str, tuple[int, ProposedSuggestion]] = {}
    for index, suggestion in sorted(candidates, key=lambda c: (not _replaces_a_draft(c[1]), c[0])):
        for order in _orders(suggestion, group):
            owner.setdefault(order, (index, suggestion))
    out = []
    for index, result in enumerate(results):
        kept: list[ProposedSuggestion] = []
        elsewhere: list[OfferedElsewhere] = []
        for suggestion in result.suggestions:
            owners = [owner[order] for order in _orders(suggestion, group)]
            if owners and all(other != index for other, _ in owners):
                for other, offered in owners:
                    pointer = OfferedElsewhere(label=offered.label, node_id=results[other].node_id)
                    if pointer not in elsewhere:
                        elsewhere.append(pointer)
            else:
                kept.append(suggestion)
        if len(kept) == len(result.suggestions):
            out.append(result)
            continue
        out.append(replace(
            result,
            suggestions=tuple(kept),
            selection_behavior=result.selection_behavior if kept else None,
            offered_elsewhere=(*result.offered_elsewhere, *elsewhere),
        ))
    return out
