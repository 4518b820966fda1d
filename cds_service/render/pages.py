"""One HTML page per pathway node (the cards' `source.url`) and an index: the recommendation, its rules in
words with the questions they ask, the seed citation, the local defaults and the codes, and what this
deployment changed locally (the pathway configuration file), next to the seed citation."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem

from cds_service.guideline.config import PathwayConfig, load_pathway_config
from cds_service.guideline.nodes import NodeSpec, Rule, pathway_spec
from cds_service.guideline.valuesets import orderable
from cds_service.pathway.questions import QUESTIONS
from cds_service.render.cards import override_reason_system
from cds_service.render.templates import page_env

__all__ = ["index_page", "node_page", "override_reason_code_system"]


_SEED_MENTION = re.compile(r"\bseed (\d{3})(?: refs? (\d+(?:, \d+)*))?")


@lru_cache(maxsize=1)
def _document_titles() -> dict[str, str]:
    """Seed file number ("000") -> the document's title, from the seeds the nodes cite."""
    return {s.file.split("_", 1)[0]: s.document for n in pathway_spec().nodes for s in n.seeds if s.document}


def _cited(text: str) -> str:
    """Code comments say "seed 000 ref 2"; a page a clinician reads names the document ("Treatment
    Approach for Soft Tissue Calcifications in the Foot, ref. 2")."""
    titles = _document_titles()

    def title(match: re.Match[str]) -> str:
        name = titles.get(match.group(1))
        if name is None:
            return match.group(0)
        return f"{name}, ref. {match.group(2)}" if match.group(2) else name

    return _SEED_MENTION.sub(title, text)


def _question(name: str) -> dict[str, Any]:
    negated = name.startswith("not ")
    key = name[4:] if negated else name
    fn = QUESTIONS.get(key)
    doc = _cited(" ".join((fn.__doc__ or "").split())) if fn else "(unknown question)"
    return {"name": key, "negated": negated, "doc": doc}


def _rule(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "hooks": rule.hooks, "trigger": rule.trigger,
            "all": [_question(q) for q in rule.all], "any": [_question(q) for q in rule.any]}


def _common(base_url: str) -> dict[str, Any]:
    spec = pathway_spec()
    base = base_url.rstrip("/")
    return {"base_url": base, "pathway_label": spec.label, "override_system": override_reason_system(base)}


def _local_changes(node: NodeSpec, config: PathwayConfig) -> dict[str, Any]:
    """What the deployment's pathway configuration changes for this node (empty values: nothing)."""
    local = config.local
    setting = local.node(node.id)
    indicator = local.indicator(node.id, node.indicator)
    return {
        "enabled": setting.enabled,
        "indicator": indicator if indicator != node.indicator else None,
        "comment": setting.comment,
        "orderables": [
            {"name": name, "standard": orderable(name), "local": local.orderables[name]}
            for name in node.orderables
            if name in local.orderables
        ],
        "override_reasons": local.reasons_for(node.id),
        "snooze_days": config.snooze_days,
        "snooze_source": config.source_of("snooze_days"),
        "snoozable": local.snoozable(node.id, indicator),
        "snooze_setting": setting.snooze,
    }


def node_page(
    node_id: str, base_url: str, config: PathwayConfig | None = None, *, fhir_url: str | None = None
) -> str | None:
    """`fhir_url`: where this deployment serves the node as a FHIR PlanDefinition (the route passes it; the
    render step does not know the FHIR routes)."""
    spec = pathway_spec()
    node: NodeSpec | None = spec.node(node_id)
    if node is None:
        return None
    config = config or load_pathway_config()
    return page_env().get_template("pages/node.html.j2").render(
        **_common(base_url),
        node=node,
        rules=[_rule(r) for r in node.rules],
        orderables=[orderable(name) for name in node.orderables],
        override_reasons=[{"code": c, "display": spec.override_reasons[c]} for c in node.override_reasons],
        local=_local_changes(node, config),
        fhir_url=fhir_url,
    )


def index_page(base_url: str, config: PathwayConfig | None = None) -> str:
    spec = pathway_spec()
    config = config or load_pathway_config()
    return page_env().get_template("pages/index.html.j2").render(
        **_common(base_url),
        nodes=spec.nodes,
        override_reasons=spec.override_reasons,
        local=config.local,
    )


def override_reason_code_system(base_url: str, config: PathwayConfig | None = None) -> dict[str, Any]:
    """The FHIR CodeSystem behind the cards' overrideReasons (`<base>/override-reason`), for a route to serve:
    the pathway's codes, then the deployment's local ones."""
    base = base_url.rstrip("/")
    spec = pathway_spec()
    local_reasons = (config or load_pathway_config()).local.override_reasons
    resource = {
        "resourceType": "CodeSystem",
        "id": "override-reason",
        "url": override_reason_system(base),
        "name": "FootCalcificationOverrideReason",
        "title": f"{spec.label}: override reasons",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "concept": [
            *({"code": code, "display": display} for code, display in spec.override_reasons.items()),
            *({"code": r.code, "display": r.display, "definition": "local override reason of this deployment"}
              for r in local_reasons),
        ],
    }
    return CodeSystem.model_validate(resource).model_dump(mode="json", exclude_none=True)
