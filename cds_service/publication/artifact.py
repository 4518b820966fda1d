"""The pathway as a CPG-on-FHIR artifact (FHIR R4 JSON), generated from the guideline's data, never by hand.

Sources: `guideline/nodes.toml` (through `pathway_spec()`), the orderables of `valuesets.toml`, the
prefetch templates of `cds_service.services` and the pathway configuration (thresholds and local
sections). Shape (CPG 2.0 / CRMI):

- PlanDefinition `foot-calcification-pathway` (cpg-pathwaydefinition, clinical-protocol): one action that
  points to the strategy;
- PlanDefinition `foot-calcification-strategy` (cpg-strategydefinition, workflow-definition): one action per
  node, pointing to the node's recommendation;
- one PlanDefinition per node (cpg-recommendationdefinition, eca-rule), id = node id, with one action whose
  id is the node id: a `named-event` trigger per hook, the applicability condition (the node's rules over
  nodes.toml's question names, language `QUESTION_LANGUAGE`), the seed citations as `documentation`, the
  rules and local defaults as the cpg-rationale; one child action per orderable it may suggest
  (definitionCanonical -> the ActivityDefinition);
- one ActivityDefinition per orderable (kind ServiceRequest, intent proposal, the codes of valuesets.toml
  and the local order catalog);
- Library `foot-calcification-logic` (logic-library): every question as an output parameter, and the data
  requirements, one per discovery prefetch key with the template as its `cqf-fhirQueryPattern`.

Output is deterministic (sorted keys once serialised, the date from publication.toml, no clock).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote

from cds_service.guideline.config import PathwayConfig, load_pathway_config
from cds_service.guideline.nodes import NodeSpec, PathwaySpec, Rule, pathway_spec
from cds_service.guideline.valuesets import Orderable, orderable
from cds_service.services import SERVICES, prefetch_templates
from cds_service.tools.pathway_check import describe_changes

__all__ = [
    "LIBRARY_ID",
    "PATHWAY_ID",
    "QUESTION_LANGUAGE",
    "STRATEGY_ID",
    "Artifact",
    "Publication",
    "build_artifact",
    "canonical",
    "node_condition",
    "publication",
    "rule_expression",
    "serialise",
]

JSON = dict[str, Any]

PATHWAY_ID = "foot-calcification-pathway"
STRATEGY_ID = "foot-calcification-strategy"
LIBRARY_ID = "foot-calcification-logic"
BUNDLE_ID = "foot-calcification-pathway"
# The conditions are boolean expressions over nodes.toml's question names (and/or/not, parentheses,
# `hook in (...)`): named questions a FHIR tool can show, not CQL or FHIRPath it could run.
QUESTION_LANGUAGE = "text/x-foot-calcification-question"

CPG = "http://hl7.org/fhir/uv/cpg/StructureDefinition/"
CRMI = "http://hl7.org/fhir/uv/crmi/StructureDefinition/"
FHIR_EXT = "http://hl7.org/fhir/StructureDefinition/"
PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
LIBRARY_TYPE = "http://terminology.hl7.org/CodeSystem/library-type"
COMMON_PROCESS = "http://hl7.org/fhir/uv/cpg/CodeSystem/cpg-common-process-cs"
# HL7 "FHIR Clinical Reasoning with CDS Hooks" maps card indicators to action priorities this way.
PRIORITY = {"info": "routine", "warning": "urgent", "critical": "stat"}

_PLAN_PROFILES = (f"{CRMI}crmi-shareableplandefinition", f"{CRMI}crmi-publishableplandefinition")
PROFILES = {
    "pathway": (f"{CPG}cpg-pathwaydefinition", *_PLAN_PROFILES),
    "strategy": (f"{CPG}cpg-strategydefinition", *_PLAN_PROFILES),
    "recommendation": (f"{CPG}cpg-recommendationdefinition", *_PLAN_PROFILES),
    # Not cpg-servicerequestactivity: it fixes `code` to cpg-activity-type#order-service, and CPG tools
    # (clinical-reasoning's ServiceRequestResolver) take the order's code from ActivityDefinition.code.
    "activity": (f"{CPG}cpg-computableactivity", f"{CRMI}crmi-publishableactivitydefinition"),
    "library": (f"{CRMI}crmi-shareablelibrary", f"{CRMI}crmi-publishablelibrary"),
}


@dataclass(frozen=True, slots=True)
class Publication:
    """publication.toml: who publishes the artifact, its canonical base, version and date."""

    canonical_base: str
    publisher: str
    version: str
    date: str
    status: str
    experimental: bool


@lru_cache(maxsize=1)
def publication() -> Publication:
    text = resources.files("cds_service.publication").joinpath("publication.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return Publication(**{key: data[key] for key in Publication.__slots__})  # type: ignore[attr-defined]


def canonical(resource_type: str, resource_id: str) -> str:
    return f"{publication().canonical_base}/{resource_type}/{resource_id}"


@dataclass(frozen=True, slots=True)
class Artifact:
    """The generated resources, in a fixed order: pathway, strategy, one per node, activities, library."""

    version: str
    plan_definitions: tuple[JSON, ...]
    activity_definitions: tuple[JSON, ...]
    libraries: tuple[JSON, ...]

    @property
    def resources(self) -> tuple[JSON, ...]:
        return (*self.plan_definitions, *self.activity_definitions, *self.libraries)

    def find(self, resource_type: str, resource_id: str) -> JSON | None:
        return next(
            (r for r in self.resources if r["resourceType"] == resource_type and r["id"] == resource_id), None
        )

    def by_url(self, url: str) -> JSON | None:
        """The resource a canonical (`url` or `url|version`) names, when it is this version's."""
        base, _, version = url.partition("|")
        found = next((r for r in self.resources if r["url"] == base), None)
        return found if found is not None and version in ("", found["version"]) else None

    def bundle(self) -> JSON:
        return {
            "resourceType": "Bundle",
            "id": BUNDLE_ID,
            # The pathway's version, as every entry's `version` says (meta.versionId is a server's to set).
            "identifier": {"system": publication().canonical_base, "value": f"{BUNDLE_ID}|{self.version}"},
            "type": "collection",
            "entry": [{"fullUrl": r["url"], "resource": r} for r in self.resources],
        }


def serialise(resource: JSON) -> str:
    """The one JSON form written and served: sorted keys, two-space indent, UTF-8, trailing newline."""
    return json.dumps(resource, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _name(identifier: str) -> str:
    """A computable name (R4 cnl-0: `[A-Z]([A-Za-z0-9_]){0,254}`) from a kebab-case id."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", identifier) if part)


def _term(question: str) -> str:
    return f"not {question[4:].strip()}" if question.startswith("not ") else question


def rule_expression(rule: Rule) -> str:
    """`all` joined by `and`, then one of `any` (nodes.toml's semantics), e.g. `a and not b and (c or d)`."""
    terms = [_term(q) for q in rule.all]
    if rule.any:
        terms.append("(" + " or ".join(_term(q) for q in rule.any) + ")")
    return " and ".join(terms)


def node_condition(node: NodeSpec) -> str:
    """The node fires when one of its rules holds on a hook it covers."""
    parts = [
        "hook in (" + ", ".join(f"'{hook}'" for hook in rule.hooks) + f") and {rule_expression(rule)}"
        for rule in node.rules
    ]
    return parts[0] if len(parts) == 1 else " or ".join(f"({part})" for part in parts)


def _questions(spec: PathwaySpec) -> list[str]:
    seen: dict[str, None] = {}
    for node in spec.nodes:
        for rule in node.rules:
            for question in (*rule.all, *rule.any):
                seen.setdefault(question.removeprefix("not ").strip(), None)
    return list(seen)


def _version(config: PathwayConfig) -> tuple[str, list[str]]:
    """The pathway's version; a configuration that changes anything appends the digest of its changes."""
    changes = describe_changes(config, load_pathway_config())
    base = publication().version
    if not changes:
        return base, changes
    digest = hashlib.sha256("\n".join(changes).encode("utf-8")).hexdigest()[:10]
    return f"{base}-local.{digest}", changes


def _metadata(resource_type: str, resource_id: str, title: str, description: str, version: str,
              profiles: tuple[str, ...]) -> JSON:
    pub = publication()
    return {
        "resourceType": resource_type,
        "id": resource_id,
        "meta": {"profile": list(profiles)},
        "url": canonical(resource_type, resource_id),
        "version": version,
        "name": _name(resource_id),
        "title": title,
        "status": pub.status,
        "experimental": pub.experimental,
        "date": pub.date,
        "publisher": pub.publisher,
        "description": description,
    }


def _capabilities() -> list[JSON]:
    # Shareable and publishable; not computable/executable: the conditions are named questions, not CQL.
    return [{"url": f"{FHIR_EXT}cqf-knowledgeCapability", "valueCode": code} for code in ("shareable", "publishable")]


def _citation(seed: Any) -> JSON:
    return {
        "type": "citation",
        "label": seed.source,
        "display": seed.heading,
        "citation": f"\u201c{seed.quote}\u201d ({seed.source})",
    }


def _triggers(hooks: tuple[str, ...]) -> list[JSON]:
    return [{"type": "named-event", "name": hook} for hook in hooks]


def _condition(expression: str, description: str) -> list[JSON]:
    return [{"kind": "applicability",
             "expression": {"language": QUESTION_LANGUAGE, "expression": expression, "description": description}}]


def _node_code(node: NodeSpec) -> list[JSON]:
    # The same code as the cards' source.topic (system <base>/pathway, code = node id), on the canonical base.
    return [{"coding": [{"system": f"{publication().canonical_base}/pathway", "code": node.id, "display": node.title}]}]


def _rules_text(node: NodeSpec) -> str:
    return " ".join(f"{', '.join(rule.hooks)}: {rule.trigger}" for rule in node.rules)


def _local_defaults(node: NodeSpec, config: PathwayConfig) -> list[str]:
    lines = []
    for default in node.local_defaults:
        line = default.text
        if default.config and hasattr(config, default.config):
            line += f" (this configuration: {default.config} = {getattr(config, default.config)})"
        lines.append(line)
    return lines


def _rationale(node: NodeSpec, config: PathwayConfig) -> str:
    lines = [f"- {', '.join(rule.hooks)}: {rule.trigger}" for rule in node.rules]
    defaults = _local_defaults(node, config)
    text = "When this recommendation applies:\n\n" + "\n".join(lines)
    if defaults:
        text += "\n\nChoices the guideline does not make (local defaults, configurable):\n\n"
        text += "\n".join(f"- {line}" for line in defaults)
    return text


def _activity_code(item: Orderable, config: PathwayConfig) -> JSON:
    """The orderable's code, with the local order catalog's coding beside it or instead of it."""
    concept = item.codeable_concept()
    mapped = config.local.orderables.get(item.name)
    if mapped is None:
        return concept
    codings = [] if mapped.mode == "replace" else list(concept.get("coding", []))
    return {**concept, "coding": [*codings, mapped.coding()]}


def _activity(item: Orderable, version: str, config: PathwayConfig) -> JSON:
    resource = _metadata("ActivityDefinition", item.name, item.display, f"Propose: {item.text}.", version,
                         PROFILES["activity"])
    resource.update({
        "kind": "ServiceRequest",
        "code": _activity_code(item, config),
        "intent": "proposal",
        "doNotPerform": False,
    })
    return resource


def _orderable_action(node: NodeSpec, item: Orderable, version: str, config: PathwayConfig) -> JSON:
    return {
        "id": f"{node.id}.{item.name}",
        "title": item.text,
        "description": (f"One of the orders this recommendation may propose ({item.display}); which of them, "
                        "per patient, follows its rules and local defaults."),
        "code": [_activity_code(item, config)],
        "trigger": _triggers(node.hooks),
        "condition": _condition(node_condition(node), _rules_text(node)),
        "definitionCanonical": f"{canonical('ActivityDefinition', item.name)}|{version}",
    }


def _recommendation(node: NodeSpec, spec: PathwaySpec, version: str, config: PathwayConfig, library: str) -> JSON:
    setting = config.local.node(node.id)
    indicator = setting.indicator or node.indicator
    description = f"{node.title}. {_rules_text(node)}"
    resource = _metadata("PlanDefinition", node.id, node.title, description, version, PROFILES["recommendation"])
    extensions = [
        {"url": f"{CPG}cpg-partOf", "valueCanonical": f"{canonical('PlanDefinition', PATHWAY_ID)}|{version}"},
        *_capabilities(),
    ]
    if not setting.enabled:
        extensions.append({"url": f"{CPG}cpg-enabled", "valueBoolean": False})  # turned off locally
    resource["extension"] = extensions
    resource["type"] = {"coding": [{"system": PLAN_TYPE, "code": "eca-rule", "display": "ECA Rule"}]}
    resource["relatedArtifact"] = [_citation(seed) for seed in node.seeds]
    resource["library"] = [library]
    action: JSON = {
        "extension": [{"url": f"{CPG}cpg-rationale", "valueMarkdown": _rationale(node, config)}],
        "id": node.id,
        "title": node.title,
        "description": _rules_text(node),
        "code": _node_code(node),
        "priority": PRIORITY[indicator],
        "documentation": [_citation(seed) for seed in node.seeds],
        "trigger": _triggers(node.hooks),
        "condition": _condition(node_condition(node), _rules_text(node)),
    }
    children = [_orderable_action(node, orderable(name), version, config) for name in node.orderables]
    if children:
        action["selectionBehavior"] = "any"
        action["action"] = children
    resource["action"] = [action]
    return resource


def _process_code() -> list[JSON]:
    return [{"coding": [{"system": COMMON_PROCESS, "code": "guideline-based-care", "display": "Guideline-based Care"}]}]


def _strategy(spec: PathwaySpec, version: str, library: str) -> JSON:
    resource = _metadata(
        "PlanDefinition", STRATEGY_ID, f"{spec.label}: recommendations",
        "The pathway's recommendations, one action per node of the pathway (node id = action id).", version,
        PROFILES["strategy"],
    )
    resource["extension"] = [
        {"url": f"{CPG}cpg-partOf", "valueCanonical": f"{canonical('PlanDefinition', PATHWAY_ID)}|{version}"},
        *_capabilities(),
    ]
    resource["type"] = {"coding": [{"system": PLAN_TYPE, "code": "workflow-definition", "display": "Workflow Definition"}]}
    resource["library"] = [library]
    resource["action"] = [
        {
            "id": node.id,
            "title": node.title,
            "description": _rules_text(node),
            "code": _process_code(),
            "trigger": _triggers(node.hooks),
            "condition": _condition(node_condition(node), _rules_text(node)),
            "definitionCanonical": f"{canonical('PlanDefinition', node.id)}|{version}",
        }
        for node in spec.nodes
    ]
    return resource


def _pathway(spec: PathwaySpec, version: str, changes: list[str], library: str) -> JSON:
    description = (
        f"{spec.label}: {SERVICES[0].description} Drafted by the engineering team from the seed texts "
        "(seed 000 'Treatment Approach for Soft Tissue Calcifications in the Foot', seed 004 'Soft Tissue "
        "Calcifications'), awaiting clinical review."
    )
    if changes:
        description += " Local configuration: " + "; ".join(changes) + "."
    resource = _metadata("PlanDefinition", PATHWAY_ID, spec.label, description, version, PROFILES["pathway"])
    resource["extension"] = _capabilities()
    resource["type"] = {"coding": [{"system": PLAN_TYPE, "code": "clinical-protocol", "display": "Clinical Protocol"}]}
    files = sorted({seed.file for node in spec.nodes for seed in node.seeds})
    resource["relatedArtifact"] = [
        {"type": "documentation", "label": f"seed {name.split('_', 1)[0]}", "display": name} for name in files
    ]
    resource["library"] = [library]
    hooks = tuple(service.hook for service in SERVICES)
    resource["action"] = [{
        "id": "recommendations",
        "title": f"{spec.label}: recommendations",
        "description": "Evaluate the pathway's recommendations for a patient with a soft tissue calcification of the foot.",
        "code": _process_code(),
        "trigger": _triggers(hooks),
        "condition": _condition("in_pathway", "The patient has a soft tissue calcification (or mass) of the foot."),
        "definitionCanonical": f"{canonical('PlanDefinition', STRATEGY_ID)}|{version}",
    }]
    return resource


def _data_requirement(key: str, template: str) -> JSON:
    path, _, query = template.partition("?")
    requirement: JSON = {
        "id": key,
        "extension": [{"url": f"{FHIR_EXT}cqf-fhirQueryPattern", "valueString": template}],
        "type": path.split("/", 1)[0],
    }
    filters = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in ("code", "category"):
            continue
        codings = []
        for token in value.split(","):
            system, bar, code = unquote(token).rpartition("|")
            codings.append({"system": system, "code": code} if bar and system else {"code": code or system})
        filters.append({"path": name, "code": codings})
    if filters:
        requirement["codeFilter"] = filters
    return requirement


def _library(spec: PathwaySpec, version: str) -> JSON:
    resource = _metadata(
        "Library", LIBRARY_ID, f"{spec.label}: logic",
        "The questions the pathway's conditions name (each is a function of cds_service/pathway/questions.py, "
        f"expressions in {QUESTION_LANGUAGE}) and the data they read: one data requirement per CDS Hooks "
        "prefetch key, its query template as cqf-fhirQueryPattern.",
        version, PROFILES["library"],
    )
    resource["type"] = {"coding": [{"system": LIBRARY_TYPE, "code": "logic-library", "display": "Logic Library"}]}
    resource["parameter"] = [{"name": question, "use": "out", "type": "boolean"} for question in _questions(spec)]
    resource["dataRequirement"] = [_data_requirement(key, template) for key, template in prefetch_templates()]
    return resource


def _orderables(spec: PathwaySpec) -> list[Orderable]:
    names = dict.fromkeys(name for node in spec.nodes for name in node.orderables)
    return [orderable(name) for name in names]


def build_artifact(config: PathwayConfig | None = None, spec: PathwaySpec | None = None) -> Artifact:
    config = config or load_pathway_config()
    spec = spec or pathway_spec()
    version, changes = _version(config)
    library = f"{canonical('Library', LIBRARY_ID)}|{version}"
    plans = (
        _pathway(spec, version, changes, library),
        _strategy(spec, version, library),
        *(_recommendation(node, spec, version, config, library) for node in spec.nodes),
    )
    activities = tuple(_activity(item, version, config) for item in _orderables(spec))
    return Artifact(version=version, plan_definitions=plans, activity_definitions=activities,
                    libraries=(_library(spec, version),))
