"""The explanation for a person on a terminal: nodes fired first, each with its rules' conditions, answers,
reasons, settings and records."""

from __future__ import annotations

from cds_service.explain.model import Explanation

__all__ = ["format_explanation"]

MARK = {"fired": "+", "did-not-fire": "-", "not-reached": ".", "could-not-be-decided": "?"}


def format_explanation(explanation: Explanation, *, records: bool = True) -> str:
    e = explanation
    lines = [f"{e.hook}, evaluated on {e.evaluated_on}: {len(e.cards)} card(s); "
             f"{'in' if e.in_pathway else 'outside'} the pathway"]
    for record in e.entry:
        lines.append(f"  entry: {record.reference} {record.label} ({record.date or 'no date'})")
    if e.classification is not None:
        lines.append(f"  classification (inferred): {', '.join(e.classification.classes) or 'none'}")
    for card in e.cards:
        lines.append(f"  card {card.index} [{card.indicator}] {card.summary} <- {', '.join(card.nodes)}")
    lines.append("")
    lines.append("nodes (+ fired, - did not fire, . not reached, ? could not be decided):")
    for node in e.nodes:
        lines.append(f"{MARK[node.outcome]} {node.id} ({node.title}): {node.outcome}: {node.why}")
        lines.append(f'    seed: "{node.seed_quote}" ({node.seed_heading}, ref {node.seed_reference or "-"})')
        for rule in node.rules:
            lines.append(f"    rule {rule.rule}: {'held' if rule.fired else 'did not hold'}")
            for c in rule.conditions:
                mark = "+" if c.holds else "-"
                lines.append(f"      {mark} [{c.part}] {c.condition}: {c.answer} ({c.reason})")
                for s in c.settings:
                    lines.append(f"          setting {s.name} = {s.value} ({s.source})")
                if records:
                    for r in c.records:
                        lines.append(f"          {r.origin}: {r.reference or '-'} {r.label} ({r.date or 'no date'})")
                for ref in c.left_out:
                    lines.append(f"          left out: {ref}")
        for s in node.suggestions:
            lines.append(f"    suggests: {s.label}: " + "; ".join(f"{a.type} {a.description}" for a in s.actions))
    if e.unused_records:
        lines += ["", f"records read but not used ({len(e.unused_records) + e.unused_not_listed}):"]
        lines += [f"  {u.reference}: {u.reason}" for u in e.unused_records]
    if e.data_issues:
        lines += ["", f"data issues ({len(e.data_issues)}):"]
        lines += [f"  {i.get('where')}: {i.get('problem')}" for i in e.data_issues]
    return "\n".join(lines)
