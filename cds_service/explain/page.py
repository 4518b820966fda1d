"""The explanation as one HTML page (the "Why this card?" link): cards first, then every node, fired first,
with its rules, conditions, answers, settings and records. Every value is escaped; no script, no style
from elsewhere."""

from __future__ import annotations

from html import escape

from cds_service.explain.model import Explanation

__all__ = ["render_page"]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def render_page(e: Explanation) -> str:
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Why these cards?</title>",
        "<meta name=viewport content='width=device-width, initial-scale=1'></head><body>",
        f"<h1>Why these cards?</h1><p>{_e(e.hook)}, evaluated on {_e(e.evaluated_on)}; the patient is "
        f"{'in' if e.in_pathway else 'outside'} the pathway.</p><h2>Cards</h2><ol start=0>",
    ]
    for card in e.cards:
        parts.append(f"<li id='card-{card.index}'><strong>[{_e(card.indicator)}] {_e(card.summary)}</strong>: "
                     f"carries {_e(', '.join(card.nodes))}</li>")
    parts.append("</ol><h2>Every node of the pathway</h2>")
    for node in e.nodes:
        parts.append(f"<details id='node-{_e(node.id)}'{' open' if node.outcome == 'fired' else ''}><summary>"
                     f"<strong>{_e(node.outcome)}</strong>: {_e(node.title)} ({_e(node.id)}): {_e(node.why)}</summary>")
        parts.append(f"<p><em>Seed: &ldquo;{_e(node.seed_quote)}&rdquo; ({_e(node.seed_heading)})</em></p>")
        for rule in node.rules:
            parts.append(f"<p>Rule {_e(rule.rule)}: {'held' if rule.fired else 'did not hold'}. {_e(rule.trigger)}</p><ul>")
            for c in rule.conditions:
                parts.append(f"<li>{'&#10003;' if c.holds else '&#10007;'} <strong>{_e(c.condition)}: {_e(c.answer)}</strong>"
                             f" ({_e(c.reason)}) <small>{_e(c.question)}</small><ul>")
                parts += [f"<li>setting {_e(s.name)} = {_e(s.value)} ({_e(s.source)})</li>" for s in c.settings]
                parts += [f"<li>{_e(r.origin)}: {_e(r.reference or '-')} {_e(r.label)} ({_e(r.date or 'no date')})</li>"
                          for r in c.records]
                parts += [f"<li>left out: {_e(ref)}</li>" for ref in c.left_out]
                parts.append("</ul></li>")
            parts.append("</ul>")
        parts.append("</details>")
    if e.unused_records:
        parts.append("<h2>Records read but not used</h2><ul>")
        parts += [f"<li>{_e(u.reference)}: {_e(u.reason)}</li>" for u in e.unused_records]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)
