"""One hook call, step by step: protocol -> data gathering -> facts -> pathway rules -> cards -> response.

Each step is its own module and is called here, in order; no step calls back into an earlier one. The call
is async for its one wait, the FHIR server (bounded by the call's deadline); the CPU steps run inline (a
call with everything in prefetch never leaves the event loop); the issued cards are queued for the store's
writer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from cds_service.card_ids import CardIds, default_card_ids
from cds_service.facts.extract import build_facts
from cds_service.facts.model import Facts
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering.deadline import Deadline
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.gathering.limits import MAX_LISTED_ISSUES
from cds_service.gathering.local_codes import recognise_local_codes
from cds_service.gathering.records import ClinicalData, DataIssue, RawRecord
from cds_service.guideline.config import PathwayConfig
from cds_service.pathway.evaluate import evaluate
from cds_service.pathway.compose import compose
from cds_service.pathway.local import apply_node_settings
from cds_service.pathway.result import NodeResult
from cds_service.pathway.trace import EvaluationTrace
from cds_service.protocol.parse import parse_hook_request
from cds_service.render.cards import RenderContext, render_cards
from cds_service.render.local import localize_cards
from cds_service.services import CdsService
from cds_service.settings import DEFAULT_CALL_DEADLINE_SECONDS
from cds_service.snooze import SnoozeGate

__all__ = [
    "DATA_ISSUES_EXTENSION",
    "DATA_ISSUES_NOT_LISTED_EXTENSION",
    "CardRecorder",
    "Evaluation",
    "Invocation",
    "Judgement",
    "evaluate_call",
    "invoke",
    "judge",
]

log = logging.getLogger("cds_service.invocation")

# Globally unique extension key (spec §7) under which the response lists input it could not use.
DATA_ISSUES_EXTENSION = "org.foot-calcification-cds.data-issues"
# How many more issues there were than the extension above lists (present only when some were not listed).
DATA_ISSUES_NOT_LISTED_EXTENSION = "org.foot-calcification-cds.data-issues-not-listed"


class CardRecorder(Protocol):
    def record_issued_cards(
        self, *, service_id: str, hook_instance: str, patient_id: str, cards: list[dict[str, Any]]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Invocation:
    service: CdsService
    public_base_url: str
    fhir_client: FhirClient
    pathway: PathwayConfig
    recorder: CardRecorder
    # Signed card and suggestion uuids (card_ids.py); the app passes the scheme keyed by its settings.
    card_ids: CardIds = field(default_factory=default_card_ids)
    # Snooze after an override (reads and writes the store); None: no snoozing (offline tools, tests).
    snooze: SnoozeGate | None = None
    # Every FHIR request, page and byte of the call fits in this many seconds from the start of `invoke`.
    deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluated call: the response `invoke` answers, and the pathway results its cards were rendered
    from (PlanDefinition/$apply reads their evidence). Nothing is recorded yet."""

    response: dict[str, Any]
    results: tuple[NodeResult, ...]
    patient_id: str
    hook_instance: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the pathway concludes from one gathered record, before snooze and render (issue 17: the
    population screen runs exactly this, so its findings are the hooks' by construction)."""

    raw: RawRecord
    data: ClinicalData
    facts: Facts
    results: list[NodeResult]


def judge(
    gathered: RawRecord, patient_id: str, *, hook: str, today: date, config: PathwayConfig,
    trace: EvaluationTrace | None = None,
) -> Judgement:
    """Gathered record -> facts -> pathway results, the steps every hook call runs in this order. `trace`
    (explain mode) records every condition the rules answer; None on the hook path."""
    raw = recognise_local_codes(gathered, config)
    data = to_clinical_data(raw, patient_id)
    facts = build_facts(data, hook=hook, today=today, config=config)
    if trace is not None:
        trace.raw = raw
    return Judgement(raw, data, facts, apply_node_settings(evaluate(facts, config, trace), config))


async def invoke(
    call: Invocation, body: Any, *, today: date | None = None, deadline: Deadline | None = None
) -> dict[str, Any]:
    """`deadline`: the call's, when it started earlier (the route starts it before authentication); else
    `call.deadline_seconds` from now."""
    evaluation = await evaluate_call(call, body, today=today, deadline=deadline)
    cards = evaluation.response["cards"]
    if cards:
        try:
            # The app's recorder (store/writer.py) only queues the rows: the write happens behind the answer.
            call.recorder.record_issued_cards(
                service_id=call.service.id, hook_instance=evaluation.hook_instance,
                patient_id=evaluation.patient_id, cards=cards,
            )
        except Exception as exc:  # noqa: BLE001 - the clinician gets the cards even when the store is down
            # Feedback on them is still accepted: card ids are signed (card_ids.py).
            log.error("issued cards not recorded (%s)", type(exc).__name__)
    return evaluation.response


async def evaluate_call(
    call: Invocation, body: Any, *, today: date | None = None, deadline: Deadline | None = None,
    trace: EvaluationTrace | None = None,
) -> Evaluation:
    """Every step of `invoke` but recording the issued cards (shared with PlanDefinition/$apply and explain
    mode, whose `trace` records the pathway's answers; None on the hook path)."""
    deadline = deadline or Deadline.after(call.deadline_seconds)
    request, context = parse_hook_request(body, call.service.hook)
    day = today or date.today()
    # The evaluation day and the lookbacks also bound what gathering fetches (its date windows).
    gathered = await gather(request, context, call.fhir_client, deadline=deadline, today=day, config=call.pathway)
    judged = judge(gathered, context.patientId, hook=call.service.hook, today=day, config=call.pathway, trace=trace)
    raw, data, facts, results = judged.raw, judged.data, judged.facts, judged.results
    if call.snooze is not None:
        results = call.snooze.apply(results, facts, service_id=call.service.id, hook_instance=request.hookInstance)
    # One coherent response: folded into few cards, most urgent first (after the per-node settings and snoozes).
    results = compose(results, call.pathway)
    cards = render_cards(
        results,
        facts,
        RenderContext(base_url=call.public_base_url, service_id=call.service.id, hook_instance=request.hookInstance,
                      card_ids=call.card_ids),
    )
    cards = localize_cards(cards, call.pathway, call.public_base_url)
    # The cards are JSON already (render builds them; protocol.response is their tested contract).
    response: dict[str, Any] = {"cards": cards}
    extension = _data_issues(data.issues, raw.issues_not_listed)
    if extension is not None:
        response["extension"] = extension
    return Evaluation(response=response, results=tuple(results), patient_id=context.patientId,
                      hook_instance=request.hookInstance)


def _data_issues(issues: tuple[DataIssue, ...], not_listed_before: int) -> dict[str, Any] | None:
    """The response extension: the first `MAX_LISTED_ISSUES` issues and how many more there were."""
    not_listed = not_listed_before + max(0, len(issues) - MAX_LISTED_ISSUES)
    if not issues and not not_listed:
        return None
    listed = issues[:MAX_LISTED_ISSUES]
    # Resource ids and the problem only; the log line carries no patient identifier either.
    log.warning("%d input resource(s) left out of the evaluation: %s", len(listed) + not_listed,
                "; ".join(f"{i.where}: {i.problem}" for i in listed[:10]))
    extension: dict[str, Any] = {DATA_ISSUES_EXTENSION: [issue.to_json() for issue in listed]}
    if not_listed:
        extension[DATA_ISSUES_NOT_LISTED_EXTENSION] = not_listed
    return extension
