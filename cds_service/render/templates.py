"""The jinja2 environments over the templates in `cards/` (shipped as package `cds_service.cards`).

Card detail is GitHub markdown: every printed value passes through `markdown_escape` (jinja2's
`finalize`), so text from the patient's record cannot inject links or formatting. Summaries are plain
text. Pages are HTML with autoescape on.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["markdown_env", "markdown_escape", "page_env", "text_env"]

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
    return Environment(
        loader=PackageLoader(TEMPLATE_PACKAGE, "."),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **kwargs,
    )


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
