"""Card detail (markdown) to HTML for the sandbox page, on the server: markdown-it-py, CommonMark plus tables
(the cards' prevalence table), with raw HTML disabled so nothing in a card can inject markup, and its link
check (no `javascript:` or `data:` links)."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt

__all__ = ["render_markdown"]


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    return _parser().render(text)
