"""An optional record of one evaluation, for explain mode (`cds_service.explain`): what each rule's questions
answered, which nodes the rules fired, which builders had nothing left to say, which cards yielded.

The hook path passes no trace (None): `evaluate` then runs exactly as before, short-circuiting each rule.
With a trace, every condition of every rule of the hook is answered by the same `questions.answer` and
reported, even after the first one fails (a complete explanation); whether a rule fires is decided by the
same all/any logic, so the nodes fired are those of the hook path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cds_service.facts.model import Facts
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import Rule
from cds_service.pathway.questions import answer

__all__ = ["ConditionAnswer", "EvaluationTrace", "RuleTrace"]


@dataclass(frozen=True, slots=True)
class ConditionAnswer:
    condition: str  # as nodes.toml names it, "not " prefix included
    part: str  # "all" | "any"
    answer: bool  # the condition's value (after "not ")


@dataclass(frozen=True, slots=True)
class RuleTrace:
    node_id: str
    rule: str
    conditions: tuple[ConditionAnswer, ...]
    fired: bool


@dataclass(slots=True)
class EvaluationTrace:
    facts: Facts | None = None
    # What the facts were built from (the gathered record, `gathering.records.RawRecord`), for the records read
    # but not used; set by the invocation.
    raw: Any = None
    stopped: str | None = None  # "outside-pathway" | "deceased": evaluate answered no node at all
    rules: list[RuleTrace] = field(default_factory=list)
    built_nothing: list[str] = field(default_factory=list)  # fired, but the builder had nothing left to say
    yielded: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node -> the nodes whose card it yields to
    evaluated: tuple[str, ...] = ()  # the node ids `evaluate` answered, in card order

    def rule_fires(self, node_id: str, rule: Rule, facts: Facts, limits: PathwayConfig) -> bool:
        """`evaluate.rule_fires`, answering every condition and recording each answer."""
        answers = [ConditionAnswer(name, "all", answer(name, facts, limits)) for name in rule.all]
        answers += [ConditionAnswer(name, "any", answer(name, facts, limits)) for name in rule.any]
        fired = all(a.answer for a in answers if a.part == "all") and (
            not rule.any or any(a.answer for a in answers if a.part == "any"))
        self.rules.append(RuleTrace(node_id, rule.name, tuple(answers), fired))
        return fired
