"""The response as one piece of advice: few cards, most urgent first (nodes.toml [composition], folds_into).

Runs after the rules (`evaluate`), the pathway owners' node settings and the snoozes, so every node the
pathway decided on is still here; then:

1. A node that belongs to another node's card (`folds_into`, e.g. the classification in the card of the
   management it leads to, the routine repeat radiograph in the infection card) is carried by the first
   such card present that can take its suggestions; otherwise it keeps a card of its own.
2. Cards are ranked critical first, then by [composition] rank.
3. The cards past `max_cards` are folded into one card, the highest ranked of them.

A folded node keeps its evidence, variables and suggestions (`NodeResult.folded`); the card names every
node it carries (render: extension "org.foot-calcification-cds.nodes"). Linear in the number of results.
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import PathwaySpec, pathway_spec
from cds_service.pathway.result import NodeResult, OfferedElsewhere, SelectionBehavior

__all__ = ["SEVERITY", "compose", "rank_key"]

SEVERITY = {"critical": 0, "warning": 1, "info": 2}


def rank_key(result: NodeResult, spec: PathwaySpec) -> tuple[int, int]:
    return SEVERITY[result.indicator], spec.rank_of(result.node_id)


def _with_choices(group: list[NodeResult]) -> list[NodeResult]:
    return [r for r in group if r.suggestions]


def _can_take(host: list[NodeResult], part: list[NodeResult]) -> bool:
    """One card, one selectionBehavior: parts join unless two of them are one-of choices (at-most-one with
    two or more suggestions, e.g. MRI / ultrasound / CT and orthopedics / podiatry), which one card cannot
    keep apart."""
    one_of = [r for r in (*host, *part) if r.selection_behavior == "at-most-one" and len(r.suggestions) > 1]
    return len(one_of) <= 1


def _selection(group: list[NodeResult]) -> SelectionBehavior | None:
    with_choices = _with_choices(group)
    if not with_choices:
        return None
    if len(with_choices) == 1:
        return with_choices[0].selection_behavior
    # Several parts' suggestions: each may be taken; a one-of part's own text names its alternatives ("or").
    return "any"


def _pointers(result: NodeResult, root_of: dict[str, str], own_root: str) -> tuple[OfferedElsewhere, ...]:
    """An order offered by a node now carried by another card points at that card; one offered on the same
    card needs no pointer."""
    kept: list[OfferedElsewhere] = []
    for pointer in result.offered_elsewhere:
        root = root_of.get(pointer.node_id, pointer.node_id)
        if root == own_root:
            continue
        moved = replace(pointer, node_id=root)
        if moved not in kept:
            kept.append(moved)
    return tuple(kept)


def compose(results: list[NodeResult], config: PathwayConfig) -> list[NodeResult]:
    if not results:
        return results
    spec = pathway_spec()
    ranked = sorted(results, key=lambda r: rank_key(r, spec))
    groups: dict[str, list[NodeResult]] = {r.node_id: [r] for r in ranked}
    root_of: dict[str, str] = {r.node_id: r.node_id for r in ranked}
    for result in ranked:  # most urgent first: a host has found its own place before its parts look for it
        node = spec.node(result.node_id)
        for target in node.folds_into if node is not None else ():
            if target not in root_of:
                continue
            root = root_of[target]
            if root == result.node_id or not _can_take(groups[root], groups[result.node_id]):
                continue
            if SEVERITY[groups[root][0].indicator] > SEVERITY[result.indicator]:
                continue  # never onto a less urgent card (e.g. a node the pathway owners made critical)
            moved = groups.pop(result.node_id)
            groups[root].extend(moved)
            for member in moved:
                root_of[member.node_id] = root
            break
    cards = sorted(groups.values(), key=lambda g: rank_key(g[0], spec))
    if len(cards) > config.max_cards:
        keep, rest = cards[: config.max_cards - 1], cards[config.max_cards - 1 :]
        merged = [member for group in rest for member in group]
        for member in merged:
            root_of[member.node_id] = merged[0].node_id
        cards = [*keep, merged]
    out: list[NodeResult] = []
    for group in cards:
        host, parts = group[0], group[1:]
        if not parts:
            pointers = _pointers(host, root_of, host.node_id)
            out.append(host if pointers == host.offered_elsewhere else replace(host, offered_elsewhere=pointers))
            continue
        out.append(replace(
            host,
            indicator=min((m.indicator for m in group), key=SEVERITY.__getitem__),
            selection_behavior=_selection(group),
            offered_elsewhere=_pointers(host, root_of, host.node_id),
            folded=tuple(replace(p, offered_elsewhere=_pointers(p, root_of, host.node_id)) for p in parts),
        ))
    return sorted(out, key=lambda r: rank_key(r, spec))
