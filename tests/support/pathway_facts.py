"""Builders of `Facts` for the pathway and render tests: small, explicit, dated relative to TODAY."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from cds_service.facts.model import (
    CalcificationClass,
    Classification,
    DraftOrder,
    Evidence,
    Facts,
    ImagingEvent,
    Infection,
    LabResult,
    LabTest,
    Modality,
    MorphologyHint,
    Problem,
    Side,
)
from cds_service.guideline.config import load_pathway_config
from cds_service.pathway.evaluate import evaluate
from cds_service.pathway.result import NodeResult

__all__ = [
    "CONFIG", "TODAY", "ago", "calcification", "classified", "draft", "evidence", "facts", "infection", "lab",
    "node_ids", "results_by_node", "xr",
]

TODAY = date(2026, 11, 21)
CONFIG = load_pathway_config()


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def evidence(label: str, ref: str = "Condition/e1", days_ago: int | None = 30) -> Evidence:
    return Evidence(label=label, reference=ref, when=ago(days_ago) if days_ago is not None else None)


def calcification(ref: str = "Condition/calc", *, side: Side | None = Side.RIGHT, onset_days: int | None = 20,
                  kind: str = "calcification", label: str = "Calcific tendinitis, right ankle and foot",
                  **kw: Any) -> Problem:
    return Problem(reference=ref, kind=kind, label=label, side=side,
                   onset=ago(onset_days) if onset_days is not None else None, **kw)


def xr(days_ago: int | None, *, status: str = "done", ref: str | None = None, modality: Modality = Modality.XR,
       text: str | None = None) -> ImagingEvent:
    return ImagingEvent(modality=modality, reference=ref or f"ImagingStudy/{modality.value}-{days_ago}-{status}",
                        when=ago(days_ago) if days_ago is not None else None, status=status, body_site="foot",
                        text=text)


def lab(test: LabTest, value: float | None, unit: str | None, *, days_ago: int = 10, abnormal: bool | None = False,
        direction: str | None = None, positive: bool | None = None) -> LabResult:
    return LabResult(test=test, reference=f"Observation/{test.value}", when=ago(days_ago), value=value, unit=unit,
                     original=f"{value} {unit}" if value is not None else "see report", abnormal=abnormal,
                     direction=direction, decided_by="default range" if abnormal else None, positive=positive)


def infection(kind: str, *, ref: str | None = None, severity: str | None = None, label: str | None = None) -> Infection:
    return Infection(kind=kind, reference=ref or f"Condition/{kind}", label=label or kind.replace("-", " ").title(),
                     when=ago(5), severity=severity)


def draft(ref: str, category: str, *, modality: Modality | None = None, body_site: str | None = "foot",
          lab_test: LabTest | None = None, procedure: str | None = None, referral: str | None = None,
          occurrence: date | None = None, selected: bool = True, side: Side | None = None,
          resource: dict | None = None, label: str | None = None) -> DraftOrder:
    return DraftOrder(reference=ref, resource_type="ServiceRequest", category=category, label=label or ref,
                      selected=selected, modality=modality, body_site=body_site, side=side, lab_test=lab_test,
                      procedure=procedure, referral=referral, occurrence=occurrence, resource=resource)


def classified(*classes: CalcificationClass, complete: bool = False,
               evidence_by_class: dict[CalcificationClass, tuple[Evidence, ...]] | None = None) -> Classification:
    return Classification(classes=frozenset(classes), evidence=evidence_by_class or {}, workup_complete=complete)


def normal_metabolic_labs(days_ago: int = 10) -> dict[LabTest, LabResult]:
    return {
        LabTest.CALCIUM: lab(LabTest.CALCIUM, 9.4, "mg/dL", days_ago=days_ago),
        LabTest.PHOSPHATE: lab(LabTest.PHOSPHATE, 3.5, "mg/dL", days_ago=days_ago),
        LabTest.PTH: lab(LabTest.PTH, 40, "pg/mL", days_ago=days_ago),
        LabTest.CREATININE: lab(LabTest.CREATININE, 0.9, "mg/dL", days_ago=days_ago),
    }


def facts(*, hook: str = "patient-view", problems: tuple[Problem, ...] | None = None, **kw: Any) -> Facts:
    """A patient in the pathway (one right-foot calcific tendinitis, 20 days old) unless told otherwise."""
    kw.setdefault("classification", classified(CalcificationClass.DYSTROPHIC, complete=True,
                                               evidence_by_class={CalcificationClass.DYSTROPHIC: (
                                                   evidence("Calcific tendinitis, right ankle and foot",
                                                            "Condition/calc", 20),)}))
    kw.setdefault("labs", normal_metabolic_labs())
    return Facts(today=TODAY, patient_id="pat-1", hook=hook,
                 problems=(calcification(),) if problems is None else problems, **kw)


def results_by_node(f: Facts, config: Any = CONFIG) -> dict[str, NodeResult]:
    results = evaluate(f, config)
    ids = [r.node_id for r in results]
    assert len(ids) == len(set(ids)), f"duplicate nodes in {ids}"
    return {r.node_id: r for r in results}


def node_ids(f: Facts, config: Any = CONFIG) -> set[str]:
    return set(results_by_node(f, config))


def created_orderables(result: NodeResult) -> list[str]:
    return [a.orderable for s in result.suggestions for a in s.actions if hasattr(a, "orderable")]


__all__ += ["created_orderables", "normal_metabolic_labs", "replace", "MorphologyHint"]
