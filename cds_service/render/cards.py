"""Node results -> CDS Hooks cards, as the response's JSON.

Wording comes from the node's template in `cards/`; the seed citation, source and topic from
`nodes.toml`. Card and suggestion uuids come from `card_ids.py` (signed, deterministic per hookInstance,
node and suggestion key, so a retried hook call gets the same uuids and feedback ties back to the node);
suggested resources' ids are uuid5 over the same parts.

Cards are built as plain JSON, not through the pydantic models of `cds_service.protocol.response`: the
service builds them from fixed shapes, so the models are the tested contract instead (every card of every
scenario and fixture is validated against them in `tests/test_render_cards.py`), not a cost per call.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from cds_service.card_ids import CardIds, default_card_ids
from cds_service.facts.model import Facts
from cds_service.guideline.nodes import NodeSpec, pathway_spec
from cds_service.pathway.result import NodeResult
from cds_service.protocol.response import MAX_SUMMARY_CHARS
from cds_service.render.resources import build_action
from cds_service.render.templates import card_template, citations, markdown_env, markdown_escape
from cds_service.render.text import bounded, evidence_list, record_text, record_values, separate_blocks

__all__ = [
    "NODES_EXTENSION",
    "UUID_NAMESPACE",
    "RenderContext",
    "override_reason_system",
    "render_card",
    "render_cards",
    "stable_uuid",
]

JSON = dict[str, Any]

# Fixed namespace for this service's uuid5 values (generated once; never change it: feedback relies on it).
UUID_NAMESPACE = uuid.UUID("6f1c2a8e-3d0b-5c47-9a51-2f7e4b8d9c10")
# Card extension: the ids of every node whose advice the card carries, its own (source.topic.code) first.
# Only on cards that carry folded nodes (cds_service.pathway.compose); a card of one node needs none.
NODES_EXTENSION = "org.foot-calcification-cds.nodes"
FOLDED_TEMPLATE = "_folded.md.j2"
_DATE_SUFFIX = re.compile(r" \(\d{4}-\d{2}-\d{2}\)$")


@dataclass(frozen=True)
class RenderContext:
    base_url: str
    service_id: str
    hook_instance: str
    # Makes the card and suggestion uuids (the app passes its own, keyed by its settings).
    card_ids: CardIds = field(default_factory=default_card_ids)


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, "\x1f".join(parts)))


def override_reason_system(base_url: str) -> str:
    """The system of this service's override reasons: its CodeSystem, served at `<base>/override-reason`."""
    return f"{base_url.rstrip('/')}/override-reason"


def _summary(text: str) -> str:
    # Templates keep it short; the cap guards unusual data lengths.
    return bounded(" ".join(text.split()), MAX_SUMMARY_CHARS)


def _variables(result: NodeResult, node: NodeSpec, facts: Facts, context: RenderContext) -> dict[str, Any]:
    base = context.base_url.rstrip("/")
    spec = pathway_spec()
    # Whatever a node passes may hold record text: every string is cleaned and capped (render.text).
    evidence, evidence_more = evidence_list(
        {"label": e.label, "when": e.when, "reference": e.reference} for e in result.evidence
    )
    return {
        **record_values(result.variables),
        "node": node,
        "title": node.title,
        "seeds": node.seeds,
        "evidence": evidence,
        "evidence_more": evidence_more,
        "offered_elsewhere": [
            {"label": o.label, "title": spec.node(o.node_id).title}  # type: ignore[union-attr]
            for o in result.offered_elsewhere
        ],
        "pathway_label": spec.label,
        "page_url": f"{base}/pathway/{node.id}",
        "today": facts.today,
        "hook": facts.hook,
        "rule": result.rule,
    }


def _node(node_id: str) -> NodeSpec:
    spec = pathway_spec()
    node = spec.node(node_id)
    if node is None:
        raise ValueError(f"node result for unknown node {node_id!r}; nodes.toml lists {[n.id for n in spec.nodes]}")
    return node


def _folded_detail(result: NodeResult, host_variables: dict[str, Any], facts: Facts, context: RenderContext) -> str:
    """The folded nodes' part of the detail (`cards/_folded.md.j2`): each one's recommendation (or summary,
    nodes.toml fold_shows), the record entries it rests on that the card does not show yet, where its orders
    are offered, and its seed citations."""
    host_lines: list[str] = host_variables["evidence"]
    # A source already cited on this card is named once: later quotes from it say so instead.
    sources = {c["source"] for c in citations(host_variables["seeds"], result.rule, host_variables)}
    # A record already listed is not listed again, unless the folded node says something else of it (the
    # eschar of the host card is, for the classification, the damaged tissue that makes it dystrophic).
    shown = {(e.reference, e.label) for e in result.evidence}
    lines = [_DATE_SUFFIX.sub("", line) for line in host_lines]  # the record lines the card lists so far
    folded = []
    for part in result.folded:
        node = _node(part.node_id)
        new = tuple(e for e in part.evidence if (e.reference, e.label) not in shown)
        shown.update((e.reference, e.label) for e in new)
        variables = _variables(replace(part, evidence=new), node, facts, context)
        template = card_template(node.template)
        summary = _summary(template.summary(variables))
        blocks = []
        for name in node.fold_shows:
            if name == "summary":
                blocks.append(f"**{markdown_escape(summary.rstrip('.'))}.**")
            else:
                block = template.detail.blocks[name]
                blocks.append("".join(block(template.detail.new_context(variables))).strip())
        advice = "\n\n".join(b for b in blocks if b)
        # A record line the blocks already quote in full (a report sentence in "Morphology seen") is not
        # listed again below them.
        # Nor one that a line listed above already shows in full (a report's finding, and the radiograph
        # line quoting it).
        quoted = advice.replace("\\", "")
        kept = []
        for line in variables["evidence"]:
            text = _DATE_SUFFIX.sub("", line)
            if text.replace("\\", "") in quoted or any(text in earlier for earlier in lines):
                continue
            # A line quoting one listed above keeps what it adds (the study), not the quote again.
            for earlier in lines:
                if len(earlier) >= 20 and earlier in text:
                    text = text.replace(earlier, "").strip().rstrip(";:,").strip()
            date_suffix = _DATE_SUFFIX.search(line)
            kept.append(text + (date_suffix.group(0) if date_suffix else ""))
            lines.append(text)
        variables["evidence"] = kept
        # The blocks are markdown already (escaped when rendered): they go in after the template ran.
        slot = f"\x1efolded-{len(folded)}\x1e"
        # Only the quotes that support this node's advice, chosen as on a card of its own.
        cited = citations(node.seeds, part.rule, variables)
        for c in cited:
            c["cited_above"] = c["source"] in sources
            sources.add(c["source"])
        folded.append({**variables, "summary": summary, "advice_slot": slot, "advice": advice, "citations": cited})
    text = markdown_env().get_template(FOLDED_TEMPLATE).render(folded=folded)
    for part in folded:
        text = text.replace(part["advice_slot"], part["advice"])
    return text


def render_card(result: NodeResult, facts: Facts, context: RenderContext) -> JSON:
    spec = pathway_spec()
    node = _node(result.node_id)
    variables = _variables(result, node, facts, context)
    template = card_template(node.template)
    summary = template.summary(variables)
    detail = template.detail.render(variables)
    if result.folded:
        detail += "\n" + _folded_detail(result, variables, facts, context)
    detail = separate_blocks(detail)
    base = context.base_url.rstrip("/")
    card_uuid = context.card_ids.card(service_id=context.service_id, node_id=result.node_id,
                                      hook_instance=context.hook_instance)
    suggestions = []
    for part in (result, *result.folded):
        key = (context.hook_instance, part.node_id)
        for proposed in part.suggestions:
            actions = [
                build_action(action, facts=facts, resource_id=stable_uuid(*key, proposed.key, str(i)))
                for i, action in enumerate(proposed.actions)
            ]
            # A folded node's keys are its own: prefixed with its id, so two nodes' keys never collide.
            suggestion_key = proposed.key if part is result else f"{part.node_id}/{proposed.key}"
            suggestion_uuid = context.card_ids.suggestion(card_uuid=card_uuid, key=suggestion_key)
            suggestion: JSON = {"label": record_text(proposed.label), "uuid": suggestion_uuid}
            if proposed.is_recommended is not None:
                suggestion["isRecommended"] = proposed.is_recommended
            suggestion["actions"] = actions  # never empty: ProposedSuggestion refuses a suggestion without actions
            suggestions.append(suggestion)
    card: JSON = {
        "uuid": card_uuid,
        "summary": _summary(summary),
        "detail": detail,
        "indicator": result.indicator,
        "source": {
            "label": spec.label,
            "url": f"{base}/pathway/{node.id}",
            "topic": {"system": f"{base}/pathway", "code": node.id, "display": node.title},
        },
    }
    # No nulls and no empty arrays (CDS Hooks); selectionBehavior exactly when there are suggestions.
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = result.selection_behavior
    reasons = list(dict.fromkeys(code for part in (result, *result.folded) for code in part.override_reasons))
    if reasons:
        override_system = override_reason_system(base)
        card["overrideReasons"] = [
            {"system": override_system, "code": code, "display": spec.override_reasons[code]} for code in reasons
        ]
    if result.folded:
        card["extension"] = {NODES_EXTENSION: list(result.node_ids)}
        # Each folded node's page (its rule, seed citation and local changes), as the card's own is source.url.
        card["links"] = [
            {"label": f"Pathway: {_node(part.node_id).title}", "url": f"{base}/pathway/{part.node_id}", "type": "absolute"}
            for part in result.folded
        ]
    return card


def render_cards(results: list[NodeResult], facts: Facts, context: RenderContext) -> list[JSON]:
    seen: set[str] = set()
    cards = []
    for result in results:
        if result.node_id in seen:  # evaluate() gives one result per node; keep the contract here too
            continue
        seen.add(result.node_id)
        cards.append(render_card(result, facts, context))
    return cards
