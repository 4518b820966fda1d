"""The jinja2 environments over the templates in `cards/` (shipped as package `cds_service.cards`).

Card detail is GitHub markdown: every printed value passes through `markdown_escape` (jinja2's
`finalize`), so text from the patient's record cannot inject links or formatting. Summaries are plain
text. Pages are HTML with autoescape on.

Templates are compiled once per process: the templates ship inside the package and never change while
it runs, so there is no `auto_reload` (which stats the file on every use), and a card's template and its
summary block are looked up once (`card_template`).

`load_templates()` compiles every card and page template once, at start-up (`ops/startup.preflight` and
`create_app`): a service whose templates cannot be found or do not compile fails to start with one line,
instead of answering every hook call 500 while `/readyz` says ready.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, TemplateError, pass_context
from jinja2.runtime import Context

from cds_service.render.text import evidence_items, evidence_line

__all__ = [
    "CardTemplate",
    "TemplatesUnavailable",
    "card_template",
    "citations",
    "load_templates",
    "markdown_env",
    "markdown_escape",
    "page_env",
    "text_env",
]

TEMPLATE_PACKAGE = "cds_service.cards"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_escape(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _base(**kwargs: Any) -> Environment:
    env = Environment(
        loader=PackageLoader(TEMPLATE_PACKAGE, "."),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        **kwargs,
    )
    env.filters["evidence_line"] = evidence_line
    env.filters["evidence_items"] = evidence_items
    env.globals["citations"] = _citations
    return env


@pass_context
def _citations(context: Context) -> list[dict[str, Any]]:
    return citations(context["seeds"], context.get("rule", ""), context)


def citations(seeds: Any, rule: str, variables: Any) -> list[dict[str, Any]]:
    """The seed quotes that support a card's (or a folded node's) advice (`SeedCitation.applies`: per rule,
    per variable), in nodes.toml order. Consecutive quotes of one document section share one citation line;
    its reference number goes on that line when the quotes share it, else after each quote (as the seed
    writes it), so no citation is printed twice in a row."""
    groups: list[dict[str, Any]] = []
    for seed in seeds:
        if not seed.applies(rule, variables):
            continue
        if groups and groups[-1]["where"] == seed.where:
            groups[-1]["seeds"].append(seed)
        else:
            groups.append({"where": seed.where, "seeds": [seed]})
    out = []
    for group in groups:
        group_seeds = group["seeds"]
        if len({s.reference for s in group_seeds}) == 1:
            out.append({"source": group_seeds[0].source, "quotes": [s.quote for s in group_seeds]})
        else:
            quotes = [f"{s.quote} (ref. {s.reference})" if s.reference else s.quote for s in group_seeds]
            out.append({"source": group["where"], "quotes": quotes})
    return out


@lru_cache(maxsize=1)
def markdown_env() -> Environment:
    return _base(autoescape=False, finalize=markdown_escape)


@lru_cache(maxsize=1)
def text_env() -> Environment:
    return _base(autoescape=False, finalize=_plain)


@lru_cache(maxsize=1)
def page_env() -> Environment:
    env = _base(autoescape=True)
    env.filters["iso"] = _plain
    return env


@dataclass(frozen=True, slots=True)
class CardTemplate:
    """One node's card template, compiled: the detail (markdown) and the summary block (plain text)."""

    detail: Template
    summary_block: Callable[[Context], Iterator[str]]
    summary_template: Template

    def summary(self, variables: dict[str, Any]) -> str:
        return "".join(self.summary_block(self.summary_template.new_context(variables)))


@lru_cache(maxsize=None)
def card_template(name: str) -> CardTemplate:
    text_template = text_env().get_template(name)
    return CardTemplate(
        detail=markdown_env().get_template(name),
        summary_block=text_template.blocks["summary"],
        summary_template=text_template,
    )


class TemplatesUnavailable(Exception):
    """The card or page templates cannot be loaded; the message is one line naming the package and why."""


PAGE_TEMPLATES = ("pages/index.html.j2", "pages/node.html.j2", "pages/feedback_report.html.j2")


def load_templates(card_templates: tuple[str, ...]) -> int:
    """Compile `card_templates` (every node's template) and the page templates, once; how many were
    compiled. Raises `TemplatesUnavailable` when the package is not importable (e.g. a source tree run
    without the `cds_service/cards` link) or a template is missing or does not compile."""
    name = "?"
    try:
        for name in card_templates:
            card_template(name)
        for name in PAGE_TEMPLATES:
            page_env().get_template(name)
    except (ImportError, ValueError) as exc:  # PackageLoader: package not importable / has no directory
        raise TemplatesUnavailable(f"card templates (package {TEMPLATE_PACKAGE}) cannot be loaded: {exc}") from None
    except TemplateError as exc:
        where = getattr(exc, "name", None) or name
        raise TemplatesUnavailable(f"card template {where} cannot be loaded: {type(exc).__name__}: {exc}") from None
    except KeyError:  # card_template: the template has no `summary` block
        raise TemplatesUnavailable(f"card template {name} has no summary block") from None
    return len(card_templates) + len(PAGE_TEMPLATES)
