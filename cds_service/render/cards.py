"""Node results -> CDS Hooks cards.

Wording comes from the node's template in `cards/`; the seed citation, source and topic from
`nodes.toml`. Card and suggestion uuids come from `card_ids.py` (signed, deterministic per hookInstance,
node and suggestion key, so a retried hook call gets the same uuids and feedback ties back to the node);
suggested resources' ids are uuid5 over the same parts.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from cds_service.card_ids import CardIds, default_card_ids
from cds_service.facts.model import Evidence, Facts
from cds_service.guideline.nodes import NodeSpec, pathway_spec
from cds_service.pathway.result import NodeResult
from cds_service.protocol.response import MAX_SUMMARY_CHARS, Card, Coding, Source, Suggestion
from cds_service.render.resources import build_action
from cds_service.render.templates import markdown_env, text_env

__all__ = ["UUID_NAMESPACE", "RenderContext", "render_card", "render_cards", "stable_uuid"]

# Fixed namespace for this service's uuid5 values (generated once; never change it: feedback relies on it).
UUID_NAMESPACE = uuid.UUID("6f1c2a8e-3d0b-5c47-9a51-2f7e4b8d9c10")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class RenderContext:
    base_url: str
    service_id: str
    hook_instance: str
    # Makes the card and suggestion uuids (the app passes its own, keyed by its settings).
    card_ids: CardIds = field(default_factory=default_card_ids)


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, "\x1f".join(parts)))


def _summary(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_SUMMARY_CHARS:  # templates keep it short; this guards unusual data lengths
        text = text[: MAX_SUMMARY_CHARS - 1].rstrip() + "\u2026"
    return text


def _evidence_rows(evidence: tuple[Evidence, ...]) -> list[dict[str, Any]]:
    return [{"label": e.label, "when": e.when, "reference": e.reference} for e in evidence]


def _variables(result: NodeResult, node: NodeSpec, facts: Facts, context: RenderContext) -> dict[str, Any]:
    base = context.base_url.rstrip("/")
    return {
        **result.variables,
        "node": node,
        "title": node.title,
        "seeds": node.seeds,
        "evidence": _evidence_rows(result.evidence),
        "suggestion_labels": [s.label for s in result.suggestions],
        "pathway_label": pathway_spec().label,
        "page_url": f"{base}/pathway/{node.id}",
        "today": facts.today,
        "hook": facts.hook,
        "rule": result.rule,
    }


def render_card(result: NodeResult, facts: Facts, context: RenderContext) -> Card:
    spec = pathway_spec()
    node = spec.node(result.node_id)
    if node is None:
        raise ValueError(f"node result for unknown node {result.node_id!r}; nodes.toml lists {[n.id for n in spec.nodes]}")
    variables = _variables(result, node, facts, context)
    text_template = text_env().get_template(node.template)
    summary = "".join(text_template.blocks["summary"](text_template.new_context(variables)))
    detail = markdown_env().get_template(node.template).render(variables)
    base = context.base_url.rstrip("/")
    key = (context.hook_instance, result.node_id)
    card_uuid = context.card_ids.card(service_id=context.service_id, node_id=result.node_id,
                                      hook_instance=context.hook_instance)
    suggestions = []
    for proposed in result.suggestions:
        actions = tuple(
            build_action(action, facts=facts, resource_id=stable_uuid(*key, proposed.key, str(i)))
            for i, action in enumerate(proposed.actions)
        )
        suggestion_uuid = context.card_ids.suggestion(card_uuid=card_uuid, key=proposed.key)
        suggestions.append(Suggestion(label=proposed.label, uuid=suggestion_uuid,
                                      isRecommended=proposed.is_recommended, actions=actions))
    override_system = f"{base}/override-reason"
    return Card(
        uuid=card_uuid,
        summary=_summary(summary),
        detail=_BLANK_LINES.sub("\n\n", detail).strip() + "\n",
        indicator=result.indicator,
        source=Source(
            label=spec.label,
            url=f"{base}/pathway/{node.id}",
            topic=Coding(system=f"{base}/pathway", code=node.id, display=node.title),
        ),
        suggestions=tuple(suggestions) or None,
        selectionBehavior=result.selection_behavior if suggestions else None,
        overrideReasons=tuple(
            {"system": override_system, "code": code, "display": spec.override_reasons[code]}
            for code in result.override_reasons
        ) or None,
    )


def render_cards(results: list[NodeResult], facts: Facts, context: RenderContext) -> list[Card]:
    seen: set[str] = set()
    cards = []
    for result in results:
        if result.node_id in seen:  # evaluate() gives one result per node; keep the contract here too
            continue
        seen.add(result.node_id)
        cards.append(render_card(result, facts, context))
    return cards
