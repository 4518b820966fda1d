"""One HTML page per pathway node (the cards' `source.url`) and an index: the recommendation, its rules in
words with the questions they ask, the seed citation, the local defaults and the codes."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem

from cds_service.guideline.nodes import NodeSpec, Rule, pathway_spec
from cds_service.guideline.valuesets import orderable
from cds_service.pathway.questions import QUESTIONS
from cds_service.render.templates import page_env

__all__ = ["index_page", "node_page", "override_reason_code_system"]


def _question(name: str) -> dict[str, Any]:
    negated = name.startswith("not ")
    key = name[4:] if negated else name
    fn = QUESTIONS.get(key)
    doc = " ".join((fn.__doc__ or "").split()) if fn else "(unknown question)"
    return {"name": key, "negated": negated, "doc": doc}


def _rule(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "hooks": rule.hooks, "trigger": rule.trigger,
            "all": [_question(q) for q in rule.all], "any": [_question(q) for q in rule.any]}


def _common(base_url: str) -> dict[str, Any]:
    spec = pathway_spec()
    base = base_url.rstrip("/")
    return {"base_url": base, "pathway_label": spec.label, "override_system": f"{base}/override-reason"}


def node_page(node_id: str, base_url: str) -> str | None:
    spec = pathway_spec()
    node: NodeSpec | None = spec.node(node_id)
    if node is None:
        return None
    return page_env().get_template("pages/node.html.j2").render(
        **_common(base_url),
        node=node,
        rules=[_rule(r) for r in node.rules],
        orderables=[orderable(name) for name in node.orderables],
        override_reasons=[{"code": c, "display": spec.override_reasons[c]} for c in node.override_reasons],
    )


def index_page(base_url: str) -> str:
    spec = pathway_spec()
    return page_env().get_template("pages/index.html.j2").render(
        **_common(base_url), nodes=spec.nodes, override_reasons=spec.override_reasons
    )


def override_reason_code_system(base_url: str) -> dict[str, Any]:
    """The FHIR CodeSystem behind the cards' overrideReasons (`<base>/override-reason`), for a route to serve."""
    base = base_url.rstrip("/")
    spec = pathway_spec()
    resource = {
        "resourceType": "CodeSystem",
        "id": "override-reason",
        "url": f"{base}/override-reason",
        "name": "FootCalcificationOverrideReason",
        "title": f"{spec.label}: override reasons",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "concept": [{"code": code, "display": display} for code, display in spec.override_reasons.items()],
    }
    return CodeSystem.model_validate(resource).model_dump(mode="json", exclude_none=True)
