"""Facts -> the pathway nodes that fire, in card order (critical first, then nodes.toml [composition] rank).

Whether a node fires is decided by its rules in `nodes.toml` (named questions, per hook); what it says
and suggests is built by the node's function below. A builder may still return None when nothing is
left to say (e.g. every test it would suggest is already ordered): quiet by default. Then the response
is made consistent as a whole: a node whose card yields to another card that fired is left out
(`yields_to`), and each order is offered by one card only (`offers.one_offer_per_order`). Folding nodes
into few cards (`compose.compose`) comes later, after the node settings and snoozes, which are per node.
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.facts.model import Facts
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import Rule, pathway_spec
from cds_service.pathway import differential, follow_up, imaging, infection, labs, surgery
from cds_service.pathway.compose import SEVERITY, rank_key
from cds_service.pathway.context import Builder, NodeContext
from cds_service.pathway.offers import one_offer_per_order
from cds_service.pathway.questions import answer
from cds_service.pathway.result import NodeResult
from cds_service.pathway.trace import EvaluationTrace

__all__ = ["BUILDERS", "SEVERITY", "evaluate", "rule_fires"]

BUILDERS: dict[str, Builder] = {
    "initial-radiograph": imaging.initial_radiograph,
    "advanced-imaging": imaging.advanced_imaging,
    "differential-diagnosis": differential.differential_diagnosis,
    "metabolic-workup": labs.metabolic_workup,
    "metabolic-cause": labs.metabolic_cause,
    "osteomyelitis-rule-out": infection.osteomyelitis_rule_out,
    "eschar-no-debridement": infection.eschar_no_debridement,
    "infection-management": infection.infection_management,
    "urgent-surgery": infection.urgent_surgery,
    "surgical-referral": surgery.surgical_referral,
    "malignancy-referral": surgery.malignancy_referral,
    "conservative-care": surgery.conservative_care,
    "repeat-radiograph": follow_up.repeat_radiograph,
    "dfi-reassessment": follow_up.dfi_reassessment,
}


def rule_fires(rule: Rule, facts: Facts, limits: PathwayConfig) -> bool:
    if not all(answer(name, facts, limits) for name in rule.all):
        return False
    return not rule.any or any(answer(name, facts, limits) for name in rule.any)


def evaluate(facts: Facts, config: PathwayConfig, trace: EvaluationTrace | None = None) -> list[NodeResult]:
    """`trace` (explain mode only; None on the hook path) records every rule's answers as they are given."""
    if trace is not None:
        trace.facts = facts
    if not facts.in_pathway or (facts.deceased is not None and config.deceased_patient == "no-cards"):
        if trace is not None:
            trace.stopped = "outside-pathway" if not facts.in_pathway else "deceased"
        return []
    spec = pathway_spec()
    results: list[NodeResult] = []
    for node in spec.nodes:  # one entry per node id, so no node can fire twice
        rules = node.rules_for(facts.hook)
        if trace is None:
            fired = tuple(rule.name for rule in rules if rule_fires(rule, facts, config))
        else:
            fired = tuple(rule.name for rule in rules if trace.rule_fires(node.id, rule, facts, config))
        if not fired:
            continue
        result = BUILDERS[node.id](NodeContext(facts=facts, limits=config, node=node, fired=fired))
        if result is not None:
            results.append(result)
        elif trace is not None:
            trace.built_nothing.append(node.id)
    if facts.deceased is not None:  # "no-suggestions": the advice stays, no order is offered
        results = [replace(r, suggestions=(), selection_behavior=None) for r in results]
    present = {r.node_id for r in results}
    if trace is not None:
        for r in results:
            if over := present.intersection(spec.node(r.node_id).yields_to):  # type: ignore[union-attr]
                trace.yielded[r.node_id] = tuple(sorted(over))
    results = [r for r in results if not present.intersection(spec.node(r.node_id).yields_to)]  # type: ignore[union-attr]
    results.sort(key=lambda r: rank_key(r, spec))  # the response's order: critical first, then [composition] rank
    results = one_offer_per_order(results, spec.order_group)
    if trace is not None:
        trace.evaluated = tuple(r.node_id for r in results)
    return results
