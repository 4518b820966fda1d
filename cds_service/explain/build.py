"""One evaluation's trace (`pathway.trace`) and response -> the `Explanation` (model.py).

Nothing here decides a node: the outcomes are read from what the evaluation did (the rules' answers, the
nodes `evaluate` answered, the cards the response carries). This step only adds the words, the records
behind each answer (reading.py says which facts a question reads) and the settings it used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from cds_service.explain.model import (
    CardRef,
    Classification,
    ConditionExplanation,
    Explanation,
    NodeExplanation,
    Record,
    RuleExplanation,
    Setting,
    Suggestion,
    SuggestionAction,
    UnusedRecord,
)
from cds_service.explain.reading import LAB_TESTS, READS, Reads
from cds_service.facts.model import DraftOrder, Evidence, Facts, ImagingEvent, Infection, LabResult, Problem
from cds_service.facts.select import skip_reason
from cds_service.gathering.gather import REFETCHED, UNDATED
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import pathway_spec
from cds_service.pathway.questions import QUESTIONS
from cds_service.pathway.result import NodeResult
from cds_service.pathway.trace import EvaluationTrace
from cds_service.render.cards import NODES_EXTENSION
from cds_service.services import prefetch_keys

__all__ = ["MAX_UNUSED_LISTED", "build_explanation", "carried_nodes", "issue_type"]

JSON = dict[str, Any]
MAX_UNUSED_LISTED = 200  # a chart of thousands of unrelated records lists the first ones and counts the rest
DATA_ISSUES_EXTENSION = "org.foot-calcification-cds.data-issues"  # invocation.DATA_ISSUES_EXTENSION

# The resource types each fact is read from (for the records left out of the kinds a question reads).
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "problems": ("Condition", "Observation", "DiagnosticReport", "ServiceRequest"),
    "labs": ("Observation", "DiagnosticReport"),
    "imaging": ("ImagingStudy", "DiagnosticReport", "Procedure", "ServiceRequest", "Observation"),
    "draft_orders": ("ServiceRequest", "MedicationRequest"),
    "active_orders": ("ServiceRequest",),
    "probe_to_bone_done": ("Procedure", "Observation"),
    "bone_destruction": ("DiagnosticReport", "Observation"),
    "morphology": ("DiagnosticReport", "Observation"),
    "classification": (),
}
# Windows counted back from the evaluation day: a record within one counted, so its failing was something else.
LOOKBACKS = frozenset({"imaging_lookback_days", "lab_lookback_days", "infection_lab_lookback_days",
                       "repeat_xr_max_age_days", "duplicate_lab_window_days"})


def _key_types() -> dict[str, str]:
    """Prefetch key -> the resource type its query reads ("lab-results-2" -> "Observation")."""
    return {spec.key: spec.template.split("?")[0].split("/")[0] for spec in prefetch_keys()}


KEY_TYPES = _key_types()


def issue_type(issue: JSON) -> str | None:
    """The resource type whose records a data issue may have cost: the `Type` of its `Type/id`, or, for an
    issue that names no resource (a whole Bundle left out, an entry without a resource, a search the FHIR
    server refused), the type its prefetch key reads ("prefetch.lab-results.entry[3]",
    "fhirServer.imaging-studies+undated"). None when it cost nothing (a prefetch value fetched instead)."""
    ref = issue.get("resource") or ""
    if "/" in ref:
        return ref.split("/")[0]
    where, problem = str(issue.get("where", "")), str(issue.get("problem", ""))
    source, _, rest = where.partition(".")
    if source not in ("prefetch", "fhirServer") or problem.endswith(REFETCHED):
        return None
    key = rest.split(".")[0].removesuffix(UNDATED)
    return KEY_TYPES.get(key)


def carried_nodes(card: JSON) -> list[str]:
    """Every node a card carries, its own first (render: the nodes extension when folded, else the topic)."""
    nodes = (card.get("extension") or {}).get(NODES_EXTENSION)
    return list(nodes) if nodes else [((card.get("source") or {}).get("topic") or {}).get("code", "")]


def _day(when: date | None) -> str | None:
    return when.isoformat() if when else None


def _evidence(ev: Evidence, code: str | None, origin: str = "asserted") -> Record:
    return Record(reference=ev.reference, date=_day(ev.when), code=code, label=ev.label, origin=origin)  # type: ignore[arg-type]


def _records_of(fact: str, facts: Facts, question: str) -> list[Record]:
    value = getattr(facts, fact, None)
    if value is None:
        return []
    if fact == "classification":
        out = []
        for cls in sorted(value.classes):
            evs = value.evidence.get(cls, ())
            out += [_evidence(ev, str(cls), "inferred") for ev in evs] or [
                Record(code=str(cls), label=f"classification: {cls}", origin="inferred")]
        return out
    if fact == "labs":
        tests = LAB_TESTS.get(question)
        return [_lab(r) for t, r in value.items() if tests is None or str(t) in tests]
    if fact == "morphology":
        return [_evidence(h.evidence, h.pattern, "inferred") for h in value]
    items: Iterable[Any] = value if isinstance(value, tuple) else (value,)
    return [_record(item, fact) for item in items]


def _lab(r: LabResult) -> Record:
    return Record(reference=r.reference, date=_day(r.when), code=str(r.test), label=r.describe(), origin="asserted")


def _record(item: Any, fact: str) -> Record:
    if isinstance(item, Problem):
        return Record(reference=item.reference, date=_day(item.onset or item.recorded), code=item.concept or item.kind,
                      label=item.label, origin="asserted")
    if isinstance(item, ImagingEvent):
        site = f" of the {item.body_site}" if item.body_site else ""
        return Record(reference=item.reference, date=_day(item.when), code=f"{item.modality} {item.status}",
                      label=f"{item.modality}{site}, {item.status}", origin="asserted")
    if isinstance(item, Infection):
        return Record(reference=item.reference, date=_day(item.when), code=item.kind, label=item.label,
                      origin="asserted")
    if isinstance(item, DraftOrder):
        code = str(item.modality or item.lab_test or item.procedure or item.referral or item.category)
        site = f", body site {item.body_site}" if item.body_site else ", no body site"
        return Record(reference=item.reference, date=_day(item.occurrence), code=code,
                      label=f"{item.label} ({item.status or 'draft'}{site})", origin="asserted")
    if isinstance(item, Evidence):
        return _evidence(item, fact.replace("_", "-"))
    return Record(label=str(item), origin="asserted")


def _references(facts: Facts) -> set[str]:
    """Every resource some fact was read from."""
    refs: set[str] = set()
    for name in facts.__dataclass_fields__:
        if name in ("today", "patient_id", "hook"):
            continue
        for record in _records_of(name, facts, ""):
            if record.reference:
                refs.add(record.reference)
    return refs


def _unused(trace: EvaluationTrace, facts: Facts) -> tuple[list[UnusedRecord], int]:
    raw = trace.raw
    if raw is None:
        return [], 0
    used = _references(facts)
    unused: list[UnusedRecord] = []
    for resource_type, resources in sorted(raw.resources.items()):
        for resource in resources:
            if not isinstance(resource, dict) or not isinstance(resource.get("id"), str):
                continue
            reference = f"{resource_type}/{resource['id']}"
            if reference in used:
                continue
            reason = skip_reason(resource, resource_type, "")
            verification = ((resource.get("verificationStatus") or {}).get("coding") or [{}])[0]
            if reason is None and isinstance(verification, dict) and verification.get("code") == "refuted":
                reason = "verificationStatus refuted"
            unused.append(UnusedRecord(reference=reference, reason=reason or (
                "no fact of the pathway: no value set entry matched, or outside its windows")))
    return unused[:MAX_UNUSED_LISTED], max(0, len(unused) - MAX_UNUSED_LISTED)


def _settings(reads: Reads, config: PathwayConfig) -> list[Setting]:
    out = []
    for name in reads.settings:
        if name == "ranges":
            for test in ("calcium", "phosphate", "pth", "vitamin_d"):
                rng = config.range_for(test)
                if rng is not None:
                    out.append(Setting(name=f"ranges.{test}", value=rng.describe(),
                                       source=config.source_of(f"ranges.{test}")))
            out.append(Setting(name="ranges.egfr (low end)", value=config.egfr_threshold,
                               source=config.source_of("ranges.egfr")))
            continue
        out.append(Setting(name=name, value=getattr(config, name), source=config.source_of(name)))
    return out


def _condition(name: str, part: str, holds: bool, facts: Facts, config: PathwayConfig,
               left_out_by_type: dict[str, list[tuple[str, bool]]]) -> ConditionExplanation:
    negate = name.startswith("not ")
    key = name[4:] if negate else name
    inner = holds != negate
    reads = READS.get(key, Reads(()))
    records = [r for fact in reads.facts for r in _records_of(fact, facts, key)]
    types = {t for fact in reads.facts for t in FIELD_TYPES.get(fact, ("Condition",))}
    left = [(ref, unreadable) for t in sorted(types) for ref, unreadable in left_out_by_type.get(t, [])]
    answer = "yes" if holds else "no"
    if inner:
        reason = "found"
    elif not records:
        reason = "left-out" if left else "no-record"
        if any(unreadable for _, unreadable in left):
            answer = "unknown"  # a record of this kind could not be read: the service does not know
    elif reads.present_but == "out-of-window" and _within_lookback(records, reads, config, facts.today):
        reason = "not-matching"
    else:
        reason = reads.present_but
    fn = QUESTIONS.get(key)
    question = " ".join((fn.__doc__ or key).split()) if fn else key
    return ConditionExplanation(condition=name, part=part, answer=answer, holds=holds, question=question,  # type: ignore[arg-type]
                                reason=reason, settings=_settings(reads, config), records=records,  # type: ignore[arg-type]
                                left_out=[ref for ref, _ in left])


def _within_lookback(records: list[Record], reads: Reads, config: PathwayConfig, today: date) -> bool:
    windows = [getattr(config, s) for s in reads.settings if s in LOOKBACKS]
    if not windows:
        return False
    earliest = today - timedelta(days=max(windows))
    return any(r.date is not None and date.fromisoformat(r.date) >= earliest for r in records)


def _suggestions(result: NodeResult | None, card: JSON | None) -> list[Suggestion]:
    if result is None or card is None:
        return []
    on_card = {s.get("label"): s for s in card.get("suggestions", [])}
    out = []
    for proposed in result.suggestions:
        shown = on_card.get(proposed.label)
        if shown is None:
            continue
        out.append(Suggestion(label=proposed.label, actions=[SuggestionAction(
            type=a.get("type", ""), description=a.get("description", ""), resource=a.get("resource"),
            resourceId=a.get("resourceId")) for a in shown.get("actions", [])]))
    return out


def build_explanation(*, trace: EvaluationTrace, response: JSON, results: tuple[NodeResult, ...], service_id: str,
                      hook: str, config: PathwayConfig, base_url: str) -> Explanation:
    facts = trace.facts
    assert facts is not None, "the trace was not passed to the pathway"
    spec = pathway_spec()
    cards: list[JSON] = response.get("cards", [])
    card_of = {node: i for i, card in enumerate(cards) for node in carried_nodes(card)}
    result_of = {part.node_id: part for r in results for part in (r, *r.folded)}
    issues = list((response.get("extension") or {}).get(DATA_ISSUES_EXTENSION, []))
    unused, unused_more = _unused(trace, facts)
    left_out_by_type: dict[str, list[tuple[str, bool]]] = {}
    for item in unused:
        if not item.reason.startswith("no fact"):  # refuted, entered in error, cancelled: left out on purpose
            left_out_by_type.setdefault(item.reference.split("/")[0], []).append((item.reference, False))
    for issue in issues:  # unreadable: the answer is not known
        resource_type = issue_type(issue)
        if resource_type is not None:
            # Named by its Type/id, else by where it was (a whole key or entry without a resource).
            left_out_by_type.setdefault(resource_type, []).append((issue.get("resource") or issue["where"], True))
    rules_of: dict[str, list[Any]] = {}
    for rule_trace in trace.rules:
        rules_of.setdefault(rule_trace.node_id, []).append(rule_trace)

    nodes: list[NodeExplanation] = []
    for node in spec.nodes:
        rule_specs = {r.name: r for r in node.rules}
        rules = [RuleExplanation(
            rule=rt.rule, trigger=rule_specs[rt.rule].trigger, fired=rt.fired,
            conditions=[_condition(c.condition, c.part, c.answer, facts, config, left_out_by_type) for c in rt.conditions],
        ) for rt in rules_of.get(node.id, [])]
        fired_rules = [r.rule for r in rules if r.fired]
        if node.id in card_of:
            outcome, code = "fired", "rule-met"
            why = f"rule {', '.join(fired_rules)} held; carried by card {card_of[node.id]}"
        elif trace.stopped is not None:
            outcome, code = "not-reached", trace.stopped
            why = ("the patient is outside the pathway: no in-pathway problem" if code == "outside-pathway"
                   else "the patient is deceased: the configuration gives no cards (deceased_patient)")
        elif not node.rules_for(hook):
            outcome, code, why = "not-reached", "not-for-this-hook", f"the node has no rule for {hook}"
        elif node.id in trace.yielded:
            outcome, code = "not-reached", "yielded"
            why = f"its rule held, but its card yields to {', '.join(trace.yielded[node.id])} (nodes.toml yields_to)"
        elif node.id in trace.built_nothing:
            outcome, code = "did-not-fire", "nothing-left-to-suggest"
            why = "its rule held, but nothing was left to say (e.g. every test it would suggest is already there)"
        elif node.id in trace.evaluated and not config.local.enabled(node.id):
            outcome, code, why = "not-reached", "turned-off", "the pathway owners turned this node off (local config)"
        elif node.id in trace.evaluated:
            outcome, code = "not-reached", "snoozed"
            why = f"snoozed: a card of it was overridden with a reason within {config.snooze_days} days"
        elif any(c.answer == "unknown" for r in rules for c in r.conditions):
            outcome, code = "could-not-be-decided", "data-unreadable"
            why = "a record the rule reads could not be read (see data_issues)"
        else:
            outcome, code = "did-not-fire", "rule-not-met"
            failed = sorted({c.condition for r in rules for c in r.conditions if not c.holds})
            why = "no rule held: " + ("; ".join(failed) if failed else "no condition of the 'any' part held")
        citation = node.citation
        nodes.append(NodeExplanation(
            id=node.id, title=node.title, outcome=outcome, why=why, why_code=code, card=card_of.get(node.id),  # type: ignore[arg-type]
            seed_quote=citation.quote, seed_heading=citation.heading, seed_reference=citation.reference,
            page=f"{base_url}/pathway/{node.id}", rules=rules,
            suggestions=_suggestions(result_of.get(node.id), cards[card_of[node.id]] if node.id in card_of else None),
        ))
    order = {"fired": 0, "could-not-be-decided": 1, "did-not-fire": 2, "not-reached": 3}
    nodes.sort(key=lambda n: (order[n.outcome], n.card if n.card is not None else 0))  # stable: nodes.toml order
    classification = None
    if facts.classification is not None:
        classification = Classification(classes=sorted(str(c) for c in facts.classification.classes),
                                        records=_records_of("classification", facts, ""))
    differential = _records_of("morphology", facts, "") + _records_of("dystrophic_causes", facts, "") + \
        _records_of("metabolic_conditions", facts, "") + _records_of("malignancy", facts, "")
    return Explanation(
        service=service_id, hook=hook, evaluated_on=facts.today.isoformat(), in_pathway=facts.in_pathway,
        entry=_records_of("problems", facts, ""), classification=classification, differential=differential,
        nodes=nodes,
        cards=[CardRef(index=i, indicator=c.get("indicator", ""), summary=c.get("summary", ""),
                       nodes=carried_nodes(c)) for i, c in enumerate(cards)],
        unused_records=unused, unused_not_listed=unused_more, data_issues=issues,
    )
