"""What a pathway rule concludes for one patient, as data: the render step turns it into a card.

A `NodeResult` carries no wording; the card text lives in `cards/<template>`. Suggestions are described
by intent (create this orderable, delete that draft, move that draft's date) and become FHIR resources
only in `cds_service.render.resources`, where they are validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from cds_service.facts.model import Evidence

__all__ = [
    "CreateOrder",
    "DeleteDraft",
    "Indicator",
    "NodeResult",
    "OfferedElsewhere",
    "OrderAction",
    "ProposedSuggestion",
    "SelectionBehavior",
    "UpdateDraftOccurrence",
]

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]


@dataclass(frozen=True, slots=True)
class CreateOrder:
    """Create a draft ServiceRequest for a named orderable (`cds_service.guideline.valuesets.orderable`)."""

    orderable: str
    reason_references: tuple[str, ...] = ()
    # Indications carried over as CodeableConcepts (e.g. from the draft this order replaces)
    reason_codes: tuple[dict[str, Any], ...] = ()
    priority: Literal["routine", "urgent", "asap", "stat"] | None = None
    # Timed follow-ups: the window in which the order should be carried out.
    occurrence_start: date | None = None
    occurrence_end: date | None = None
    intent: Literal["proposal", "order"] = "proposal"


@dataclass(frozen=True, slots=True)
class DeleteDraft:
    """Remove a draft order from the EHR's order session (`resourceId` is a relative reference)."""

    resource_id: str  # "ServiceRequest/abc"
    label: str


@dataclass(frozen=True, slots=True)
class UpdateDraftOccurrence:
    """Move a draft order's occurrence into a window."""

    draft_reference: str  # "ServiceRequest/abc"
    label: str
    start: date
    end: date


OrderAction = CreateOrder | DeleteDraft | UpdateDraftOccurrence


@dataclass(frozen=True, slots=True)
class ProposedSuggestion:
    """One choice on a card. `key` is stable per node (it seeds the suggestion's uuid)."""

    key: str
    label: str
    actions: tuple[OrderAction, ...]
    is_recommended: bool | None = None

    def __post_init__(self) -> None:
        # Feedback reports an accepted suggestion as the card followed; "do nothing" is an override.
        if not self.actions:
            raise ValueError(f"suggestion {self.key!r} has no actions; keeping things as they are is an override")


@dataclass(frozen=True, slots=True)
class OfferedElsewhere:
    """An order this node would suggest, left to another card of the same response (one offer per order)."""

    label: str  # the suggestion that offers it, on the other card
    node_id: str  # that card's node


@dataclass(frozen=True, slots=True)
class NodeResult:
    node_id: str
    indicator: Indicator
    evidence: tuple[Evidence, ...]
    # Values the node's template prints (dates, values, lists); plain data only.
    variables: Mapping[str, Any] = field(default_factory=dict)
    suggestions: tuple[ProposedSuggestion, ...] = ()
    selection_behavior: SelectionBehavior | None = None
    # Override reason codes (this service's CodeSystem, listed in nodes.toml) the clinician may give.
    override_reasons: tuple[str, ...] = ()
    # The rule (by its name in nodes.toml) that fired, e.g. "patient-view" or "draft-advanced-imaging".
    rule: str = ""
    # Orders this node would suggest that another card of the response offers (set by evaluate()).
    offered_elsewhere: tuple[OfferedElsewhere, ...] = ()
    # Other nodes whose advice this card carries (set by `cds_service.pathway.compose`): each keeps its own
    # evidence, variables and suggestions; `selection_behavior` above then covers the card's suggestions.
    folded: tuple[NodeResult, ...] = ()

    @property
    def node_ids(self) -> tuple[str, ...]:
        """Every node whose advice the card carries, its own first."""
        return (self.node_id, *(f.node_id for f in self.folded))

    def __post_init__(self) -> None:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError(f"node {self.node_id!r}: suggestions need a selection_behavior")
        keys = [s.key for s in self.suggestions]
        if len(keys) != len(set(keys)):
            raise ValueError(f"node {self.node_id!r}: duplicate suggestion keys {keys}")
