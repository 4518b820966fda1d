"""How the snooze step uses the store (store/snooze.py): the hook call's lookup never waits for a writer,
and the per-call writes queued while a transaction runs are committed together (group commit)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from cds_service.settings import Settings
from cds_service.store import snooze as snooze_module
from cds_service.store.models import CardEvidence
from cds_service.store.snooze import SnoozeStore
from cds_service.store.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp_path}/snooze.db"))
    yield opened
    opened.close()


def _hold_write_lock(store: Store, release: threading.Event, held: threading.Event) -> threading.Thread:
    """Another writer (a worker's commit, the issued-card writer) in the middle of its transaction."""

    def writer() -> None:
        with store.engine.begin() as connection:  # BEGIN IMMEDIATE: the write lock
            connection.execute(text("SELECT 1"))
            held.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    assert held.wait(10)
    return thread


def test_the_lookup_does_not_wait_for_a_writer(store: Store) -> None:
    snoozes = SnoozeStore.beside(store)
    release, held = threading.Event(), threading.Event()
    writer = _hold_write_lock(store, release, held)
    answered = threading.Event()
    found: list[object] = []

    def lookup() -> None:
        found.append(snoozes.active_snoozes("pat-1", ["initial-radiograph"], days=30))
        answered.set()

    reader = threading.Thread(target=lookup)
    reader.start()
    try:
        # With BEGIN IMMEDIATE the lookup would queue behind the writer (up to the 30 s busy timeout).
        assert answered.wait(10), "the snooze lookup waited for the write lock"
        assert found == [[]]
    finally:
        release.set()
        writer.join()
        reader.join()
        snoozes.close()


def test_calls_queued_during_a_transaction_are_written_together(store: Store) -> None:
    snoozes = SnoozeStore.beside(store)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _connection: commits.append(1))
    release, held = threading.Event(), threading.Event()
    writer = _hold_write_lock(store, release, held)
    try:
        for index in range(6):
            snoozes.record_call_later(service_id="s", hook_instance=f"call-{index}",
                                      evidence={"initial-radiograph": frozenset({f"k{index}"})}, snoozed={})
    finally:
        release.set()
        writer.join()
    snoozes.flush()
    snoozes.close()
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CardEvidence)).scalar_one() == 6
    # The writer's transaction, then at most two batches: the first call (if the writer took it before the
    # others were queued) and the rest together; never one commit per call.
    assert len(commits) <= 3


def test_a_flush_does_not_wait_for_the_linger(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snooze_module, "LINGER_SECONDS", 60.0)
    snoozes = SnoozeStore.beside(store)
    done = threading.Event()
    snoozes.record_call_later(service_id="s", hook_instance="call-1", evidence={"n": frozenset({"k"})}, snoozed={})

    def flush() -> None:
        snoozes.flush()
        done.set()

    flusher = threading.Thread(target=flush)
    flusher.start()
    assert done.wait(10), "the flush waited for the writer's linger"
    flusher.join()
    snoozes.close()
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CardEvidence)).scalar_one() == 1
