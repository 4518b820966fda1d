"""The pathway's nodes as reviewable data, loaded once from `nodes.toml` beside this file.

Each node names its seed citation, its rules (per hook, as yes/no questions), the local defaults the
seeds do not give, its card template and what it may suggest. The logic of each question lives in
`cds_service.pathway.questions`; this module only reads and checks the declaration.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "HOOKS",
    "LocalDefault",
    "NodeSpec",
    "PathwaySpec",
    "Rule",
    "SeedCitation",
    "node_spec",
    "parse_pathway_spec",
    "pathway_spec",
]

HOOKS = ("patient-view", "order-select", "order-sign")
INDICATORS = ("info", "warning", "critical")
NODES_FILE = "nodes.toml"
FOLD_SHOWS = ("summary", "recommendation", "facts_extra")


@dataclass(frozen=True, slots=True)
class SeedCitation:
    file: str  # seed file name, e.g. "000_f22d5f5c2b577d39.txt"
    heading: str
    quote: str  # exact sentence from the seed
    reference: str  # the seed's inline reference number(s), "" when it gives none
    document: str = ""  # the seed document's title, from [seed_document] in nodes.toml
    # The rules (names) whose cards quote this sentence; empty: every rule of the node. A card quotes what
    # supports its own advice (the MRI-over-CT card does not quote "CT may be considered").
    rules: tuple[str, ...] = ()
    # A card variable that must hold for the quote to be shown: "name" (truthy) or "name=value" (equal, or
    # in the list), e.g. "scenarios=bone-destruction". Empty: always.
    when: str = ""

    @property
    def where(self) -> str:
        """Document title and section (when the section is not the title): 'Treatment Approach ...,
        "Initial Assessment"', 'Soft Tissue Calcifications (radiology differential)'."""
        title = self.document or self.file
        return title if title.startswith(self.heading) else f'{title}, "{self.heading}"'

    @property
    def source(self) -> str:
        """The citation as a person writes it: `where` and the document's own reference number:
        'Treatment Approach ..., "Initial Assessment" (ref. 1)'."""
        return f"{self.where} (ref. {self.reference})" if self.reference else self.where

    def applies(self, fired: str, variables: Mapping[str, Any]) -> bool:
        """Is this quote shown on a card of the rules `fired` ("a,b"), whose template variables are
        `variables`?"""
        if self.rules and not set(fired.split(",")) & set(self.rules):
            return False
        if not self.when:
            return True
        name, _, wanted = self.when.partition("=")
        value = variables.get(name)
        if not wanted:
            return bool(value)
        return value == wanted or (isinstance(value, list | tuple | set | frozenset) and wanted in value)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    hooks: tuple[str, ...]
    trigger: str  # the rule in words
    all: tuple[str, ...]  # question names, "not " prefix negates
    any: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LocalDefault:
    text: str
    config: str | None = None  # PathwayConfig field that changes it


@dataclass(frozen=True, slots=True)
class NodeSpec:
    id: str
    title: str
    indicator: str
    hooks: tuple[str, ...]
    template: str
    seeds: tuple[SeedCitation, ...]
    rules: tuple[Rule, ...]
    local_defaults: tuple[LocalDefault, ...]
    orderables: tuple[str, ...]
    value_sets: tuple[str, ...]
    override_reasons: tuple[str, ...]
    # Node ids whose card, when in the same response, replaces this one (a local default, in nodes.toml).
    yields_to: tuple[str, ...] = ()
    # Node ids whose card, when in the same response, carries this node's advice instead of a card of its
    # own (the first one present that can take its suggestions; a local default, in nodes.toml).
    folds_into: tuple[str, ...] = ()
    # What a card that carries this node shows of it: blocks of its template ("summary" as a bold line,
    # "recommendation", "facts_extra"), in this order.
    fold_shows: tuple[str, ...] = ("recommendation",)

    @property
    def citation(self) -> SeedCitation:
        return self.seeds[0]

    def rules_for(self, hook: str) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if hook in rule.hooks)


@dataclass(frozen=True, slots=True)
class PathwaySpec:
    label: str
    nodes: tuple[NodeSpec, ...]
    override_reasons: dict[str, str]  # code -> display
    # [one_offer_per_order]: orderable -> the group of orderables that count as one order in a response
    same_order: dict[str, str] = field(default_factory=dict)
    one_offer_rule: str = ""  # its local default, in words
    # [composition]: every node id, most urgent first within one indicator (cards are ranked critical first,
    # then by this list), and the composition's local default in words
    rank: tuple[str, ...] = ()
    composition_rule: str = ""

    def node(self, node_id: str) -> NodeSpec | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def order_group(self, orderable: str) -> str:
        """Orderables of one [one_offer_per_order.groups] entry are one order; any other is its own."""
        return self.same_order.get(orderable, orderable)

    def rank_of(self, node_id: str) -> int:
        """Position of the node in [composition] rank (0 first); a node missing from it ranks last."""
        return self.rank.index(node_id) if node_id in self.rank else len(self.rank)


def _tuple(entry: dict, key: str) -> tuple[str, ...]:
    return tuple(entry.get(key, ()))


def _seed(seed: dict, documents: dict[str, str]) -> SeedCitation:
    fields = {**seed, "rules": tuple(seed.get("rules", ())), "document": documents.get(seed.get("file", ""), "")}
    return SeedCitation(**fields)


def _node(entry: dict, reasons: dict[str, str], documents: dict[str, str]) -> NodeSpec:
    node_id = entry.get("id", "?")
    try:
        spec = NodeSpec(
            id=entry["id"],
            title=entry["title"],
            indicator=entry["indicator"],
            hooks=_tuple(entry, "hooks"),
            template=entry["template"],
            seeds=tuple(_seed(seed, documents) for seed in entry["seed"]),
            rules=tuple(
                Rule(name=r["name"], hooks=tuple(r["hooks"]), trigger=r["trigger"], all=tuple(r["all"]),
                     any=tuple(r.get("any", ())))
                for r in entry["rule"]
            ),
            local_defaults=tuple(LocalDefault(**d) for d in entry.get("local_default", ())),
            orderables=_tuple(entry, "orderables"),
            value_sets=_tuple(entry, "value_sets"),
            override_reasons=_tuple(entry, "override_reasons"),
            yields_to=_tuple(entry, "yields_to"),
            folds_into=_tuple(entry, "folds_into"),
            fold_shows=tuple(entry.get("fold_shows", ("recommendation",))),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{NODES_FILE}: node {node_id!r} is malformed: {exc!r}") from exc
    if spec.indicator not in INDICATORS:
        raise ValueError(f"{NODES_FILE}: node {node_id!r} has indicator {spec.indicator!r}; use one of {INDICATORS}")
    if not spec.fold_shows or not set(spec.fold_shows) <= set(FOLD_SHOWS):
        raise ValueError(f"{NODES_FILE}: node {node_id!r} has fold_shows {spec.fold_shows!r}; use one of {FOLD_SHOWS}")
    rule_hooks = {hook for rule in spec.rules for hook in rule.hooks}
    if not rule_hooks <= set(HOOKS) or rule_hooks != set(spec.hooks):
        raise ValueError(f"{NODES_FILE}: node {node_id!r} declares hooks {spec.hooks} but its rules cover {sorted(rule_hooks)}")
    rule_names = {rule.name for rule in spec.rules}
    for seed in spec.seeds:
        if not set(seed.rules) <= rule_names:
            raise ValueError(f"{NODES_FILE}: node {node_id!r}: seed {seed.quote!r} names rules {seed.rules}, not in {sorted(rule_names)}")
        if seed.file not in documents:
            raise ValueError(f"{NODES_FILE}: node {node_id!r}: seed file {seed.file!r} has no [seed_document] title")
    for rule in spec.rules:  # every card cites: each rule has a quote shown whatever its variables
        if not any(not s.when and (not s.rules or rule.name in s.rules) for s in spec.seeds):
            raise ValueError(f"{NODES_FILE}: node {node_id!r}: rule {rule.name!r} has no unconditional seed quote")
    unknown = [code for code in spec.override_reasons if code not in reasons]
    if unknown:
        raise ValueError(f"{NODES_FILE}: node {node_id!r} uses undeclared override reasons {unknown}")
    return spec


def _same_order(data: dict) -> tuple[dict[str, str], str]:
    section = data.get("one_offer_per_order", {})
    groups = section.get("groups", {})
    same: dict[str, str] = {}
    for name, orderables in groups.items():
        for orderable in orderables:
            if orderable in same:
                raise ValueError(f"{NODES_FILE}: orderable {orderable!r} is in two one_offer_per_order groups")
            same[orderable] = name
    return same, section.get("local_default", "")


def parse_pathway_spec(text: str) -> PathwaySpec:
    data = tomllib.loads(text)
    reasons = dict(data.get("override_reason", {}))
    documents = {file: doc["title"] for file, doc in data.get("seed_document", {}).items()}
    nodes = tuple(_node(entry, reasons, documents) for entry in data.get("node", ()))
    ids = [n.id for n in nodes]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{NODES_FILE}: duplicate node ids in {ids}")
    for node in nodes:
        for what, others in (("yields to", node.yields_to), ("folds into", node.folds_into)):
            unknown = [other for other in others if other not in ids or other == node.id]
            if unknown:
                raise ValueError(f"{NODES_FILE}: node {node.id!r} {what} {unknown}, which are not other nodes")
    same_order, rule = _same_order(data)
    composition = data.get("composition", {})
    rank = tuple(composition.get("rank", ()))
    if rank and sorted(rank) != sorted(ids):
        missing, unknown = sorted(set(ids) - set(rank)), sorted(set(rank) - set(ids))
        raise ValueError(f"{NODES_FILE}: [composition] rank must name every node once; missing {missing}, unknown {unknown}")
    return PathwaySpec(label=data["pathway_label"], nodes=nodes, override_reasons=reasons, same_order=same_order,
                       one_offer_rule=rule, rank=rank, composition_rule=composition.get("local_default", ""))


@lru_cache(maxsize=1)
def pathway_spec() -> PathwaySpec:
    text = resources.files("cds_service.guideline").joinpath(NODES_FILE).read_text(encoding="utf-8")
    return parse_pathway_spec(text)


def node_spec(node_id: str) -> NodeSpec | None:
    return pathway_spec().node(node_id)
