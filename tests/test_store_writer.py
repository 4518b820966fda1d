"""The issued-card writer: records behind the response, in group commits, bounded, flushed at shutdown,
failing quietly (no patient data in its logs). SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from cds_service.settings import Settings
from cds_service.store.models import CardSuggestion, IssuedCard
from cds_service.store.store import Store, open_store
from cds_service.store.writer import IssuedCardWriter
from tests.support.store_cards import accepted, make_card
from tests.support.store_postgres import store_database_url

__all__ = ["store_database_url"]  # the fixture, imported for pytest

PV = "foot-calcification-patient-view"
PATIENT = "patient-id-never-logged"


@pytest.fixture
def store(store_database_url: str) -> Any:
    opened = open_store(Settings(auth_mode="disabled", database_url=store_database_url))
    yield opened
    opened.close()


def count(store: Store, model: type) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def record(writer: IssuedCardWriter, calls: int, cards_per_call: int = 2) -> None:
    for i in range(calls):
        cards = [make_card(f"node-{j}", suggestions=2) for j in range(cards_per_call)]
        writer.record_issued_cards(service_id=PV, hook_instance=f"h-{i}", patient_id=PATIENT, cards=cards)


def test_cards_are_written_behind_and_flushed(store: Store) -> None:
    writer = IssuedCardWriter(store)
    record(writer, 5)
    assert writer.flush(timeout=10)
    assert (count(store, IssuedCard), count(store, CardSuggestion)) == (10, 20)
    writer.close()


def test_calls_arriving_while_the_writer_lingers_share_one_commit_and_a_flush_does_not_wait_the_linger(
    store: Store,
) -> None:
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda connection: commits.append(1))
    writer = IssuedCardWriter(store, linger_seconds=60.0)  # longer than the flush below may take
    record(writer, 20)  # one after the other, as calls arrive: the first waits for the others
    assert writer.flush(timeout=10)  # hurries the writer: True only if it did not linger its 60 s
    assert count(store, IssuedCard) == 40
    assert len(commits) == 1
    writer.close()


def test_calls_waiting_together_share_one_commit(store: Store) -> None:
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda connection: commits.append(1))
    gate = threading.Event()
    original = store.write_issued

    def held_write(batch: Any) -> None:
        gate.wait(10)  # the first batch waits, so the next 199 calls queue up behind it
        original(batch)

    store.write_issued = held_write  # type: ignore[method-assign]
    writer = IssuedCardWriter(store)
    record(writer, 200)
    gate.set()
    assert writer.flush(timeout=30)
    assert count(store, IssuedCard) == 400
    assert len(commits) <= 3, len(commits)  # the first call alone, then the 199 that waited (not 200 commits)
    writer.close()


def test_close_writes_what_is_waiting(store: Store) -> None:
    writer = IssuedCardWriter(store)
    record(writer, 50)
    writer.close()
    assert count(store, IssuedCard) == 100
    record(writer, 1)  # after close: refused, not queued for a thread that is gone
    assert count(store, IssuedCard) == 100


def test_a_full_queue_drops_cards_without_blocking_the_call(store: Store, caplog: Any) -> None:
    writing, gate = threading.Event(), threading.Event()
    original = store.write_issued

    def held_write(batch: Any) -> None:
        writing.set()
        gate.wait(10)
        original(batch)

    store.write_issued = held_write  # type: ignore[method-assign]
    writer = IssuedCardWriter(store, max_pending=3)
    record(writer, 1)
    assert writing.wait(10)  # the writer holds the first call
    record(writer, 9)  # 3 queued, 6 dropped
    assert writer.dropped_calls == 6
    assert caplog.text.count("issued cards not recorded: 3 calls already wait to be written") == 1  # not 6 lines
    gate.set()
    assert writer.flush(timeout=10)
    assert count(store, IssuedCard) == 8
    writer.close()


def test_a_failing_database_is_retried_then_given_up_quietly(store: Store, caplog: Any) -> None:
    attempts: list[int] = []

    def down(batch: Any) -> None:
        attempts.append(len(batch))
        raise OperationalError("INSERT INTO issued_cards", {"patient_hash": "x"}, Exception(PATIENT))

    store.write_issued = down  # type: ignore[method-assign]
    slept: list[float] = []
    writer = IssuedCardWriter(store, retry_delays=(0.5, 2.0), sleep=slept.append)
    record(writer, 1)
    assert writer.flush(timeout=10)
    assert len(attempts) == 3 and slept == [0.5, 2.0]
    assert writer.dropped_calls == 1
    assert "issued cards not recorded (OperationalError) after 3 attempts: 2 card(s) of 1 call(s) dropped" in caplog.text
    assert PATIENT not in caplog.text
    writer.close()


def test_the_writer_recovers_when_the_database_comes_back(store: Store) -> None:
    original, failures = store.write_issued, [2]

    def flaky(batch: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        original(batch)

    store.write_issued = flaky  # type: ignore[method-assign]
    writer = IssuedCardWriter(store, retry_delays=(0.0, 0.0))
    record(writer, 1)
    assert writer.flush(timeout=10)
    assert count(store, IssuedCard) == 2 and writer.dropped_calls == 0
    writer.close()


def test_feedback_right_after_the_call_finds_the_card_before_its_row_is_written(store: Store) -> None:
    """The card's row waits in the queue; its signed uuid is enough for the feedback to be accepted."""
    from cds_service.protocol.feedback import FeedbackRequest
    from tests.test_store_card_ids import signed_card

    gate = threading.Event()
    original = store.write_issued
    store.write_issued = lambda batch: (gate.wait(10), original(batch))  # type: ignore[method-assign, func-returns-value]
    writer = IssuedCardWriter(store)
    card = signed_card(store)
    writer.record_issued_cards(service_id=PV, hook_instance="h-1", patient_id=PATIENT, cards=[card])
    feedback = FeedbackRequest.model_validate({"feedback": [accepted(card)]})
    assert store.record_feedback(service_id=PV, feedback=feedback) == 1
    gate.set()
    assert writer.flush(timeout=10)
    with store.engine.connect() as connection:
        row = connection.execute(select(IssuedCard.hook_instance, IssuedCard.source)).one()
    assert tuple(row) == ("h-1", "hook-call")  # the record completed the row the feedback made
    writer.close()


def test_a_call_queued_twice_in_one_batch_is_written_once(store: Store) -> None:
    """A retried hook call (same hookInstance, same uuids) can land in one group commit with the first."""
    card = make_card("n1", suggestions=2)
    rows = [store.issued_rows(service_id=PV, hook_instance=f"h-{i}", patient_id=PATIENT, cards=[card])
            for i in range(2)]
    store.write_issued(rows)
    with store.engine.connect() as connection:
        assert connection.execute(select(IssuedCard.hook_instance)).scalars().all() == ["h-0"]
    assert count(store, CardSuggestion) == 2
