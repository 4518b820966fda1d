"""The explanation of one evaluation, as pydantic models: the JSON answer of `POST /cds-services/{id}/explain`
and its schema in the OpenAPI document. Plain data, no patient identifier and no token (resource ids only,
as the cards' own evidence)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "CardRef",
    "ConditionExplanation",
    "Explanation",
    "NodeExplanation",
    "Outcome",
    "Reason",
    "Record",
    "RuleExplanation",
    "Setting",
    "UnusedRecord",
]

Outcome = Literal["fired", "did-not-fire", "not-reached", "could-not-be-decided"]
# Why a question answered as it did (for the question itself, before a rule's "not "):
Reason = Literal[
    "found",  # a record that counts
    "no-record",  # no record of this kind at all
    "out-of-window",  # records of this kind, none within the window
    "out-of-range",  # a result present, within the normal range / threshold
    "not-of-the-foot",  # an order present, of another body site
    "not-matching",  # records present, none of the kind, class or status asked
    "left-out",  # records of this kind were read but left out (refuted, entered in error, unreadable)
]


class Record(BaseModel):
    reference: str | None = Field(None, description="Type/id of the resource, when it has one")
    date: str | None = Field(None, description="the date that counted (YYYY-MM-DD)")
    code: str | None = Field(None, description="what counted: the value set entry, test, modality or kind")
    label: str = Field(description="the record in words, as the cards show it")
    origin: Literal["asserted", "inferred"] = Field(
        description="asserted: in the record; inferred: concluded by the service (e.g. the classification)")


class Setting(BaseModel):
    name: str = Field(description="PathwayConfig / thresholds.toml name")
    value: Any
    source: str = Field(description="spec, seed, or 'local default' (configurable: CDS_PATHWAY_CONFIG)")


class ConditionExplanation(BaseModel):
    condition: str = Field(description="as nodes.toml names it; a leading 'not ' negates the question")
    part: Literal["all", "any"]
    answer: Literal["yes", "no", "unknown"] = Field(
        description="the condition's value; unknown when no record counted and records it reads were unreadable")
    holds: bool = Field(description="the value the rule used (unknown counts as the service's answer)")
    question: str = Field(description="the question, from pathway/questions.py")
    reason: Reason
    settings: list[Setting] = []
    records: list[Record] = Field([], description="the records the question read")
    left_out: list[str] = Field([], description="records of the kinds it reads that were left out (data issues): "
                                                "Type/id, or where a whole key or entry was lost (prefetch.KEY)")


class RuleExplanation(BaseModel):
    rule: str
    trigger: str = Field(description="the rule in words (nodes.toml)")
    fired: bool
    conditions: list[ConditionExplanation]


class SuggestionAction(BaseModel):
    type: str
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(BaseModel):
    label: str
    actions: list[SuggestionAction]


class NodeExplanation(BaseModel):
    id: str
    title: str
    outcome: Outcome
    why: str = Field(description="the outcome in words")
    why_code: str = Field(description="rule-met, rule-not-met, outside-pathway, deceased, not-for-this-hook, "
                                      "yielded, nothing-left-to-suggest, turned-off, snoozed, data-unreadable")
    card: int | None = Field(None, description="index of the card that carries this node (0-based), when fired")
    seed_quote: str
    seed_heading: str
    seed_reference: str
    page: str = Field(description="the node's page (rule, seed citation, local changes)")
    rules: list[RuleExplanation]
    suggestions: list[Suggestion] = Field([], description="what the card offers for this node, exact resources")


class CardRef(BaseModel):
    index: int
    indicator: str
    summary: str
    nodes: list[str] = Field(description="every node the card carries, its own first")


class UnusedRecord(BaseModel):
    reference: str
    reason: str


class Classification(BaseModel):
    classes: list[str]
    records: list[Record]


class Explanation(BaseModel):
    """Why each node of the pathway fired, or did not, for this request, from the evaluation that made its cards."""

    service: str
    hook: str
    evaluated_on: str
    in_pathway: bool
    entry: list[Record] = Field(description="the in-pathway problems that put the patient in the pathway")
    classification: Classification | None = None
    differential: list[Record] = Field([], description="morphology and causes read for the differential")
    nodes: list[NodeExplanation] = Field(description="every node, fired first (in card order)")
    cards: list[CardRef]
    unused_records: list[UnusedRecord] = Field([], description="resources read but not used, and why")
    unused_not_listed: int = 0
    data_issues: list[dict[str, Any]] = Field([], description="input left out (the response's data-issues extension)")
