"""Explain one hook request: the hook's own evaluation (`invocation.evaluate_call`), with a trace.

Nothing is recorded as issued (an explanation is no card shown to a clinician); the snooze step reads the
snoozes as on the hook, so that the cards explained are the cards the hook would answer, but writes nothing
(`SnoozeGate.read_only`): explaining a chart changes no state. Where the explained evaluation IS the hook's
answer (the sandbox run, the hook with "Why this card?" links) the caller passes `record=True`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from cds_service.errors import ServiceError
from cds_service.explain.build import build_explanation
from cds_service.explain.model import Explanation
from cds_service.gathering.deadline import Deadline
from cds_service.invocation import Evaluation, Invocation, evaluate_call
from cds_service.pathway.trace import EvaluationTrace
from cds_service.tools.run import HookRun

__all__ = ["Explained", "explain_call", "explain_hook", "explain_recorded", "record_cards"]

log = logging.getLogger("cds_service.explain")


@dataclass(frozen=True, slots=True)
class Explained:
    explanation: Explanation
    evaluation: Evaluation


async def explain_call(call: Invocation, body: Any, *, today: date | None = None,
                       deadline: Deadline | None = None, record: bool = False) -> Explained:
    """`record`: the snooze step writes its evidence as on the hook (the caller answers the cards too)."""
    if call.snooze is not None and not record:
        call = replace(call, snooze=call.snooze.read_only())
    trace = EvaluationTrace()
    evaluation = await evaluate_call(call, body, today=today, deadline=deadline, trace=trace)
    explanation = build_explanation(trace=trace, response=evaluation.response, results=evaluation.results,
                                    service_id=call.service.id, hook=call.service.hook, config=call.pathway,
                                    base_url=call.public_base_url)
    return Explained(explanation, evaluation)


async def explain_hook(call: Invocation, body: Any, *, today: date | None) -> HookRun:
    """As `tools.run.run_hook`, for the tools: 200 and the explanation (JSON), or the hook's 400/412 body."""
    try:
        explained = await explain_call(call, body, today=today)
    except ServiceError as error:
        return HookRun(error.status_code, error.body())
    return HookRun(200, explained.explanation.model_dump(mode="json"))


async def explain_recorded(call: Invocation, body: Any, *, today: date | None) -> tuple[HookRun, Explanation | None]:
    """The sandbox's run: the hook's answer (cards recorded as `invocation.invoke` records them, so feedback
    and snoozes work as on the hook) and the explanation of that same evaluation."""
    try:
        explained = await explain_call(call, body, today=today, record=True)
    except ServiceError as error:
        return HookRun(error.status_code, error.body()), None
    record_cards(call, explained.evaluation)
    return HookRun(200, explained.evaluation.response), explained.explanation


def record_cards(call: Invocation, evaluation: Evaluation) -> None:
    """Record the issued cards as `invocation.invoke` does (queued for the store's writer)."""
    cards = evaluation.response["cards"]
    if not cards:
        return
    try:
        call.recorder.record_issued_cards(service_id=call.service.id, hook_instance=evaluation.hook_instance,
                                          patient_id=evaluation.patient_id, cards=cards)
    except Exception as exc:  # noqa: BLE001 - as invoke: the cards are shown even when the store is down
        log.error("issued cards not recorded (%s)", type(exc).__name__)
