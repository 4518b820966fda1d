"""Node pages: one per node with its recommendation, rules, citation and codes; escaped; served over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from cds_service.guideline.nodes import pathway_spec
from cds_service.guideline.valuesets import orderable
from cds_service.render.pages import index_page, node_page, override_reason_code_system

NODES = pathway_spec().nodes


@pytest.mark.parametrize("node", NODES, ids=[n.id for n in NODES])
def test_every_node_has_a_page_with_citation_rules_and_codes(node) -> None:  # type: ignore[no-untyped-def]
    page = node_page(node.id, "https://cds.example.org")
    assert page is not None and page.startswith("<!doctype html>")
    assert node.title in page
    for seed in node.seeds:
        quote = seed.quote.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert quote in page
    for rule in node.rules:
        assert rule.trigger.replace("'", "&#39;") in page
        for question in (*rule.all, *rule.any):
            assert f"<code>{question.removeprefix('not ')}</code>" in page
    for name in node.orderables:
        item = orderable(name)
        assert (item.code or "text only") in page
    for default in node.local_defaults:
        assert default.text.replace("'", "&#39;").replace(">", "&gt;").replace("<", "&lt;") in page


def test_unknown_node_has_no_page_and_base_url_is_escaped() -> None:
    assert node_page("no-such-node", "https://x") is None
    page = node_page("initial-radiograph", 'https://x/"><script>alert(1)</script>')
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def test_index_lists_every_node_and_the_override_reasons() -> None:
    page = index_page("https://cds.example.org")
    for node in NODES:
        assert f'href="https://cds.example.org/pathway/{node.id}"' in page
    for code, display in pathway_spec().override_reasons.items():
        assert f"<code>{code}</code>" in page and display.replace("(", "(") in page
    assert "https://cds.example.org/override-reason" in page


def test_pages_are_served(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    response = client.get("/pathway/osteomyelitis-rule-out")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert "Consider probe-to-bone test, ESR, CRP as initial studies" in response.text
    assert client.get("/pathway").status_code == 200
    assert client.get("/pathway/nope").status_code == 404


def test_override_reason_code_system_lists_every_code_cards_use() -> None:
    system = override_reason_code_system("https://cds.example.org/")
    assert system["url"] == "https://cds.example.org/override-reason"
    codes = {c["code"]: c["display"] for c in system["concept"]}
    assert codes == pathway_spec().override_reasons
    assert {code for node in NODES for code in node.override_reasons} <= set(codes)


def test_a_served_node_page_links_its_plan_definition_and_the_link_resolves(
    make_client: Callable[..., TestClient],
) -> None:
    import re

    client = make_client()
    page = client.get("/pathway/osteomyelitis-rule-out").text
    (link,) = re.findall(r'<a href="([^"]+/fhir/PlanDefinition/osteomyelitis-rule-out)"', page)
    answer = client.get(link[link.index("/fhir/"):])
    assert answer.status_code == 200 and answer.json()["id"] == "osteomyelitis-rule-out"
