"""Facts from imaging: foot/ankle studies done or ordered, calcification reported in imaging results
(spec entry 3), seed-004 morphology hints, bone destruction, and the probe-to-bone test.

A study is done when an ImagingStudy, imaging report or result, or Procedure says so, and also when only
its order says so: a completed imaging ServiceRequest with nothing else of that study in the record (the
study and report stayed in the PACS). It is dated by its occurrence, else its `authoredOn` (the study was
done on or after the order, so the date can only make it look older). An ImagingStudy without `started` is
dated by its earliest series (`dates.clinical_date`).

Report text is read for affirmed terms only: "no soft tissue calcification" is not a finding. A text
finding must place the calcification in soft tissue (a soft-tissue word in the same report): vascular
calcification, common on diabetic foot radiographs, is not the pathway's concern.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cds_service.facts.access import codings, concept_texts, concepts, get, strings
from cds_service.facts.dates import clinical_date, within
from cds_service.facts.labs import COUNTING_OBSERVATION_STATUSES
from cds_service.facts.model import Evidence, ImagingEvent, MorphologyHint, Problem, Side
from cds_service.facts.recognise import ImagingKind, foot_site, imaging_kind, imaging_texts, is_imaging_category
from cds_service.facts.text import affirmed_term, label_of, match_concepts, side_in_text
from cds_service.guideline.valuesets import ValueSets

__all__ = ["MORPHOLOGY_SETS", "ImagingFacts", "imaging_facts"]

REPORT_STATUSES = frozenset({"final", "amended", "corrected", "appended", "preliminary", "partial"})
STUDY_STATUSES = frozenset({"registered", "available", "unknown"})
PROCEDURE_DONE_STATUSES = frozenset({"completed"})
ORDER_ACTIVE_STATUSES = frozenset({"active"})
ORDER_DONE_STATUSES = frozenset({"completed"})
# A completed order and a study of the same modality (and side) dated this many days after it, or fewer,
# are one study when nothing links them (`basedOn`): an order is done within days. Shorter than the
# shortest repeat-radiograph interval (14 days, seed 000 ref 2), so a repeat film is never taken for the
# first one's order.
ORDER_FOLD_DAYS = 7
LABEL_CHARS = 160

# value set -> (MorphologyHint.pattern, malignant)
MORPHOLOGY_SETS: dict[str, tuple[str, bool]] = {
    "morphology-phlebolith": ("phlebolith", False),
    "morphology-cysticercosis": ("cysticercosis", False),
    "morphology-dracunculiasis": ("dracunculiasis", False),
    "morphology-cppd": ("cppd", False),
    "morphology-tumoral-calcinosis": ("tumoral-calcinosis", False),
    "morphology-metastatic": ("metastatic", False),
    "morphology-osteosarcoma": ("osteosarcoma", True),
}


@dataclass(slots=True)
class ImagingFacts:
    events: list[ImagingEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    morphology: list[MorphologyHint] = field(default_factory=list)
    bone_destruction: Evidence | None = None
    probe_to_bone: Evidence | None = None


@dataclass(frozen=True, slots=True)
class _Report:
    """One imaging resource with its texts, for findings and hints."""

    resource: Any
    reference: str
    when: date | None
    texts: tuple[str, ...]
    report_texts: tuple[str, ...]  # conclusion / value / notes only (not the study's name)
    coded: tuple[tuple[str | None, str | None], ...]  # conclusionCode / valueCodeableConcept / code codings


class _Kinds:
    """`imaging_kind` of each resource, read once per call (events, reports and findings all ask)."""

    def __init__(self, valuesets: ValueSets) -> None:
        self._valuesets = valuesets
        self._found: dict[int, ImagingKind | None] = {}  # by id(): the resources outlive this call's step

    def of(self, resource: Any, resource_type: str) -> ImagingKind | None:
        key = id(resource)
        if key not in self._found:
            self._found[key] = imaging_kind(resource, resource_type, self._valuesets)
        return self._found[key]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _joined(texts: Iterable[str | None]) -> str | None:
    """Texts of one study in one line, each ended by punctuation: "XR Foot 3 Views; Pathologic
    calcification; Soft tissue ..." (a bare space would run them together into one sentence)."""
    out = ""
    for text in texts:
        if not text:
            continue
        out += ("" if not out else " " if out.endswith((".", ";", ":", "!", "?")) else "; ") + text
    return out or None


def _report_texts(resource: Any) -> tuple[str, ...]:
    texts = concept_texts(*concepts(resource, "conclusionCode", "valueCodeableConcept"))
    texts += strings(get(resource, "conclusion"), get(resource, "valueString"))
    texts += strings(*(get(note, "text") for note in concepts(resource, "note")))
    return tuple(texts)


def _event(resource: Any, resource_type: str, status: str, kinds: _Kinds) -> ImagingEvent | None:
    kind = kinds.of(resource, resource_type)
    if kind is None:
        return None
    texts = _report_texts(resource) or tuple(strings(get(resource, "description")))
    return ImagingEvent(
        modality=kind.modality,
        reference=f"{resource_type}/{get(resource, 'id')}",
        when=clinical_date(resource, resource_type),
        status=status,
        body_site=kind.body_site,
        side=Side(kind.side) if kind.side else None,
        text=_joined(texts),
        by_text=kind.by_text,
    )


def _based_on(resources: Iterable[Any]) -> set[str]:
    """`ServiceRequest/<id>` of every order a study, report or procedure says it fulfils."""
    found: set[str] = set()
    for resource in resources:
        for reference in get(resource, "basedOn") or ():
            value = get(reference, "reference")
            if isinstance(value, str) and value.startswith("ServiceRequest/"):
                found.add(value)
    return found


def _completed_orders(orders: list[ImagingEvent], done: list[ImagingEvent], fulfilled: set[str]) -> list[ImagingEvent]:
    """The completed orders that are the only record of their study: not the `basedOn` of a study, report
    or procedure, and with no study of the same modality (and compatible side) from their day to
    ORDER_FOLD_DAYS after it. (An undated order counts only when no study of its modality does.)"""
    kept = []
    for order in orders:
        if order.reference in fulfilled:
            continue
        same = [
            e for e in done
            if e.modality == order.modality and (e.side is None or order.side is None or e.side == order.side)
        ]
        if order.when is None:
            if not same:
                kept.append(order)
            continue
        if not any(e.when is not None and 0 <= (e.when - order.when).days <= ORDER_FOLD_DAYS for e in same):
            kept.append(order)
    return kept


def _merge_same_study(events: list[ImagingEvent]) -> list[ImagingEvent]:
    """One event per study: an ImagingStudy, its report and its Procedure share modality and day (and side,
    when more than one of them says it). Orders are never merged."""
    out: list[ImagingEvent] = []
    for event in events:
        same = next(
            (
                index
                for index, first in enumerate(out)
                if event.status == "done"
                and first.status == "done"
                and event.when is not None
                and (first.modality, first.when) == (event.modality, event.when)
                and (first.side is None or event.side is None or first.side == event.side)
            ),
            None,
        )
        if same is None:
            out.append(event)
            continue
        first = out[same]
        out[same] = ImagingEvent(
            modality=first.modality,
            reference=first.reference,
            when=first.when,
            status=first.status,
            body_site=first.body_site or event.body_site,
            side=first.side or event.side,
            text=_joined((first.text, event.text)),
            also=(*first.also, event.reference),
            by_text=first.by_text and event.by_text,
        )
    return out


def _finding(report: _Report, valuesets: ValueSets, kinds: _Kinds) -> Problem | None:
    """Spec entry 3: calcification of foot/ankle soft tissue, coded or in the report text."""
    finding_set = valuesets["imaging-calcification-finding"]
    member = finding_set.member(report.coded)
    term = None
    if member is None:
        for text in report.report_texts:
            term = affirmed_term(finding_set, text)
            if term is not None and affirmed_term(valuesets["soft-tissue-words"], text) is not None:
                break
            term = None
        if term is None:
            return None
    resource_type = report.reference.split("/", 1)[0]
    site = None
    kind = kinds.of(report.resource, resource_type)
    if kind is not None:
        site = kind.body_site
    if site is None:
        site = foot_site(report.resource, extra_texts=report.texts, valuesets=valuesets)
    if site is None:
        return None
    side = (kind.side if kind else None) or side_in_text(*report.texts)
    words = next((t for t in report.report_texts if t), None) or label_of(get(report.resource, "code"))
    return Problem(
        reference=report.reference,
        kind="imaging-finding",
        label=_short(words or "Calcification on foot imaging"),
        concept=member.concept if member is not None else term,
        side=Side(side) if side else None,
        onset=report.when,
        recorded=report.when,
        matched_by_text=member is None,
        body_site=site,
    )


def _hints(report: _Report, valuesets: ValueSets) -> list[MorphologyHint]:
    hints = []
    for name, (pattern, malignant) in MORPHOLOGY_SETS.items():
        value_set = valuesets[name]
        if value_set.matches_codings(report.coded):
            label = next((t for t in report.report_texts), value_set.title)
        else:
            label = next((t for t in report.report_texts if affirmed_term(value_set, t)), None)
            if label is None:
                continue
        hints.append(MorphologyHint(pattern, Evidence(_short(label), report.reference, report.when), malignant))
    return hints


def _reports(data: Any, kinds: _Kinds) -> list[_Report]:
    candidates: list[tuple[Any, str]] = [(r, "DiagnosticReport") for r in data.diagnostic_reports]
    candidates += [(o, "Observation") for o in data.observations]
    candidates += [(s, "ImagingStudy") for s in data.imaging_studies]
    reports = []
    for resource, resource_type in candidates:
        status = get(resource, "status")
        if resource_type == "DiagnosticReport" and status not in REPORT_STATUSES:
            continue
        if resource_type == "Observation" and (
            status not in COUNTING_OBSERVATION_STATUSES
            or not (is_imaging_category(resource) or kinds.of(resource, resource_type) is not None)
        ):
            continue
        if resource_type == "ImagingStudy" and status not in STUDY_STATUSES:
            continue
        reports.append(
            _Report(
                resource=resource,
                reference=f"{resource_type}/{get(resource, 'id')}",
                when=clinical_date(resource, resource_type),
                texts=tuple(imaging_texts(resource)) + tuple(concept_texts(*concepts(resource, "bodySite"))),
                report_texts=_report_texts(resource)
                + (tuple(strings(get(resource, "description"))) if resource_type == "ImagingStudy" else ()),
                coded=tuple(codings(*concepts(resource, "conclusionCode", "valueCodeableConcept", "code"))),
            )
        )
    return reports


def imaging_facts(
    data: Any, *, today: date, probe_lookback_days: int, valuesets: ValueSets, history_days: int | None = None
) -> ImagingFacts:
    """`history_days`: imaging dated earlier than that many days before `today` is not read (the service
    does not fetch it either, so prefetch and fetch give the same answer); undated imaging is read."""
    facts = ImagingFacts()
    kinds = _Kinds(valuesets)
    events: list[ImagingEvent] = []
    oldest = date.min if history_days is None else today - timedelta(days=history_days)
    # (resources, type, statuses that count, done or ordered)
    sources = (
        (data.imaging_studies, "ImagingStudy", STUDY_STATUSES, "done"),
        (data.diagnostic_reports, "DiagnosticReport", REPORT_STATUSES, "done"),
        (data.observations, "Observation", COUNTING_OBSERVATION_STATUSES, "done"),
        (data.procedures, "Procedure", PROCEDURE_DONE_STATUSES, "done"),
        (data.service_requests, "ServiceRequest", ORDER_ACTIVE_STATUSES, "ordered"),
    )
    for resources, resource_type, statuses, state in sources:
        for resource in resources:
            if get(resource, "status") in statuses and (event := _event(resource, resource_type, state, kinds)):
                if state == "ordered" or event.when is None or event.when >= oldest:
                    events.append(event)
    completed = [
        event
        for resource in data.service_requests
        if get(resource, "status") in ORDER_DONE_STATUSES
        and (event := _event(resource, "ServiceRequest", "done", kinds)) is not None
        and (event.when is None or event.when >= oldest)
    ]
    if completed:
        done = [e for e in events if e.status == "done"]
        fulfilled = _based_on((*data.imaging_studies, *data.diagnostic_reports, *data.procedures, *data.observations))
        events += _completed_orders(completed, done, fulfilled)
    facts.events = _merge_same_study(events)

    seen_patterns: set[str] = set()
    for report in _reports(data, kinds):
        if report.when is not None and not oldest <= report.when <= today:
            continue
        problem = _finding(report, valuesets, kinds)
        if problem is not None:
            facts.problems.append(problem)
        for hint in _hints(report, valuesets):
            if hint.pattern not in seen_patterns:
                seen_patterns.add(hint.pattern)
                facts.morphology.append(hint)
        if facts.bone_destruction is None:
            for text in report.report_texts:
                if affirmed_term(valuesets["bone-destruction"], text):
                    facts.bone_destruction = Evidence(_short(text), report.reference, report.when)
                    break

    # Probe-to-bone: no code exists, so a Procedure or Observation named so in text (spec osteomyelitis-rule-out)
    probe = valuesets["probe-to-bone"]
    for resource, resource_type, statuses in (
        *((p, "Procedure", PROCEDURE_DONE_STATUSES) for p in data.procedures),
        *((o, "Observation", COUNTING_OBSERVATION_STATUSES) for o in data.observations),
    ):
        if get(resource, "status") not in statuses:
            continue
        if match_concepts(probe, [get(resource, "code")]) is None:
            continue
        when = clinical_date(resource, resource_type)
        if within(when, today, probe_lookback_days) and (
            facts.probe_to_bone is None or (facts.probe_to_bone.when or date.min) < (when or date.min)
        ):
            facts.probe_to_bone = Evidence(
                label_of(get(resource, "code"), fallback="Probe-to-bone test"),
                f"{resource_type}/{get(resource, 'id')}",
                when,
            )
    return facts
