"""PLACEHOLDER (helper D replaces): one HTML page per pathway node."""
from __future__ import annotations


def node_page(node_id: str, base_url: str) -> str | None:
    return None


def index_page(base_url: str) -> str:
    return "<!doctype html><title>Foot calcification pathway</title><h1>Pathway nodes</h1>"
