"""What a node's builder gets: the facts, the limits, its own declaration and the rules that fired;
and the evidence wording shared by all nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cds_service.facts.model import (
    LAB_NAMES,
    DraftOrder,
    Evidence,
    Facts,
    ImagingEvent,
    Infection,
    LabResult,
    Problem,
)
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import NodeSpec
from cds_service.pathway.result import NodeResult

__all__ = [
    "LAB_NAMES",
    "Builder",
    "NodeContext",
    "draft_evidence",
    "infection_evidence",
    "imaging_evidence",
    "lab_evidence",
    "problem_evidence",
]

MODALITY_NAMES = {"XR": "Radiograph", "MR": "MRI", "CT": "CT", "US": "Ultrasound"}


@dataclass(frozen=True, slots=True)
class NodeContext:
    facts: Facts
    limits: PathwayConfig
    node: NodeSpec
    fired: tuple[str, ...]  # names of the node's rules that fired for this hook

    def result(self, evidence: list[Evidence] | tuple[Evidence, ...], **kwargs: object) -> NodeResult:
        # One resource may back two questions in two wordings ("Necrotizing fasciitis" and "Necrotizing
        # fasciitis (severe)"): show it once. Different facts about one resource (a draft, and the reason
        # written on it) both stay.
        unique_list: list[Evidence] = []
        for item in dict.fromkeys(evidence):
            if any(
                kept.reference is not None
                and kept.reference == item.reference
                and (kept.label.startswith(item.label) or item.label.startswith(kept.label))
                for kept in unique_list
            ):
                continue
            unique_list.append(item)
        unique = tuple(unique_list)
        return NodeResult(
            node_id=self.node.id,
            indicator=kwargs.pop("indicator", self.node.indicator),  # type: ignore[arg-type]
            evidence=unique,
            rule=",".join(self.fired),
            **kwargs,  # type: ignore[arg-type]
        )


Builder = Callable[[NodeContext], NodeResult | None]


def problem_evidence(problem: Problem) -> Evidence:
    return Evidence(label=problem.label, reference=problem.reference, when=problem.onset or problem.recorded)


def lab_evidence(result: LabResult) -> Evidence:
    return Evidence(label=result.describe(), reference=result.reference, when=result.when)


def imaging_evidence(event: ImagingEvent) -> Evidence:
    what = MODALITY_NAMES.get(event.modality.value, event.modality.value)
    site = " ".join(x for x in (event.side.value if event.side else None, event.body_site or "foot/ankle") if x)
    verb = "ordered" if event.status == "ordered" else "done"
    label = f"{what} of the {site} ({verb})"
    if event.text:
        label += f": {event.text}"
    return Evidence(label=label, reference=event.reference, when=event.when)


def draft_evidence(draft: DraftOrder) -> Evidence:
    return Evidence(label=f"Draft order: {draft.label}", reference=draft.reference, when=draft.occurrence)


def infection_evidence(infection: Infection) -> Evidence:
    label = infection.label + (f" ({infection.severity})" if infection.severity else "")
    return Evidence(label=label, reference=infection.reference, when=infection.when)
