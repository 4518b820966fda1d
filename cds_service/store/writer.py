"""Issued cards are recorded behind the response: a background thread writes them in batches.

Recording a call's cards used to cost a transaction (a commit, an fsync on SQLite) on the path of every
hook call. Now `record_issued_cards` only computes the rows (the patient already reduced to its keyed
hash) and queues them; one thread per process takes everything waiting and writes it in one transaction
(group commit: the busier the service, the bigger the batch, the fewer the commits).

What feedback relies on does not weaken: a card is recognised by its signed uuid (card_ids.py) whether
or not its row is written yet, and a 200 on feedback still means that feedback is committed (feedback is
written synchronously, by `Store.record_feedback`). What can be lost, if the process dies or the
database stays down, is only the record that a card was issued (the report's "issued" count).

The queue is bounded: when it is full (the database is slow or down and calls keep coming) a call's cards
are not recorded, with a warning, rather than growing memory or blocking the call. A failing batch is
retried a few times, then dropped with an error. Logs carry counts and exception types, never patient data.
`close()` writes what is waiting before the process exits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from cds_service.protocol.response import Card
from cds_service.store.store import IssuedRows, Store

__all__ = ["GroupCommitWriter", "IssuedCardWriter"]

log = logging.getLogger("cds_service.store")

MAX_PENDING_CALLS = 5000  # calls whose cards wait to be written, at most (~1 KB each)
MAX_BATCH_CALLS = 500  # calls written in one transaction, at most
# After the first call of a batch arrives, the writer waits this long for more before it writes (unless a
# flush is waiting). Under load a batch is then several calls instead of one: its transaction's Python
# costs (SQLAlchemy, in this thread, holding the GIL the event loop needs) are paid once per batch
# (benchmarks/load_bench.py). The issued-card record is that much later; feedback never waits for it.
LINGER_SECONDS = 0.1
FULL_WARNING_INTERVAL_SECONDS = 10.0
_STOP = object()
T = TypeVar("T")


class GroupCommitWriter(Generic[T]):
    """One background thread (started on first use) that writes what callers queued, everything waiting in
    one transaction (group commit). The queue is bounded; a failing batch is retried after each of
    `retry_delays`, then dropped. Subclasses say how a batch is written and what is logged
    (`_write_batch`, `_refused_closed`, `_refused_full`, `_retrying`, `_gave_up`, `_not_written_at_close`).

    The issued-card writer below is one; the snooze store's per-call writes (store/snooze.py) are the other.
    """

    thread_name = "group-commit-writer"

    def __init__(
        self,
        *,
        max_pending: int = MAX_PENDING_CALLS,
        max_batch: int = MAX_BATCH_CALLS,
        retry_delays: tuple[float, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._max_batch = max_batch
        self._retry_delays = retry_delays
        self._sleep = sleep
        self._linger = linger_seconds
        self._hurry = threading.Event()  # set by flush(): write what is queued without lingering
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0  # queued items not yet written (or dropped)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_full_warning = 0.0
        self.dropped_calls = 0  # items never written (queue full, or the database failed)

    # What a subclass says ------------------------------------------------------------------------------

    def _write_batch(self, batch: list[T]) -> None:
        raise NotImplementedError

    def _refused_closed(self, item: T) -> None:
        """Logs an item queued after `close()` (it is not written)."""

    def _refused_full(self) -> None:
        """Logs a full queue; called at most once per FULL_WARNING_INTERVAL_SECONDS."""

    def _retrying(self, exc: Exception, attempt: int, delay: float) -> None:
        """Logs a failed attempt that will be retried after `delay` seconds."""

    def _gave_up(self, exc: Exception, attempt: int, batch: list[T]) -> None:
        """Logs a batch dropped after its last attempt failed."""

    def _not_written_at_close(self, count: int) -> None:
        """Logs the items still unwritten when `close()` stops waiting."""

    # Queueing ------------------------------------------------------------------------------------------

    def put(self, item: T) -> None:
        """Queue `item`; never blocks and never raises for the store's sake."""
        with self._lock:
            if self._closed:
                self._refused_closed(item)
                return
            self._start()
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.dropped_calls += 1
                now = time.monotonic()
                if now >= self._next_full_warning:  # one line per interval, not one per call, in an outage
                    self._next_full_warning = now + FULL_WARNING_INTERVAL_SECONDS
                    self._refused_full()
                return
            self._unfinished += 1

    # Flushing and closing ------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued item is written (or dropped); False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._hurry.set()
        with self._idle:
            while self._unfinished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Write what is waiting (for up to `timeout` seconds), then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        if not self.flush(timeout):
            self._not_written_at_close(self._unfinished)
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:  # still full after the flush timed out: the daemon thread ends with the process
            return
        thread.join(timeout)

    # The thread ----------------------------------------------------------------------------------------

    def _start(self) -> None:  # called with the lock held
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[T] = [first]  # type: ignore[list-item]
            if self._linger > 0 and not self._hurry.is_set():
                self._hurry.wait(self._linger)  # more calls join this batch meanwhile
            stop = False
            while len(batch) < self._max_batch:  # everything else already waiting joins this commit
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            if self._queue.empty():
                self._hurry.clear()  # a flush waiting now waits for this batch, which holds all it asked for
            self._write(batch)
            with self._idle:
                self._unfinished -= len(batch)
                self._idle.notify_all()
            if stop:
                return

    def _write(self, batch: list[T]) -> None:
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            try:
                self._write_batch(batch)
                return
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure; the type is logged
                if delay is None:
                    self.dropped_calls += len(batch)
                    self._gave_up(exc, attempt, batch)
                    return
                self._retrying(exc, attempt, delay)
                self._sleep(delay)


class IssuedCardWriter(GroupCommitWriter[IssuedRows]):
    """The app's `CardRecorder`: queues each call's issued cards for the background writer."""

    thread_name = "issued-card-writer"

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = MAX_PENDING_CALLS,
        max_batch: int = MAX_BATCH_CALLS,
        retry_delays: tuple[float, ...] = (0.5, 2.0),
        sleep: Callable[[float], None] = time.sleep,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        super().__init__(max_pending=max_pending, max_batch=max_batch, retry_delays=retry_delays, sleep=sleep,
                         linger_seconds=linger_seconds)
        self._store = store

    # The CardRecorder protocol (invocation.py) ---------------------------------------------------------

    def record_issued_cards(self, *, service_id: str, hook_instance: str, patient_id: str, cards: list[Card]) -> None:
        """Queue the cards; never blocks and never raises for the store's sake."""
        if not cards:
            return
        self.put(self._store.issued_rows(service_id=service_id, hook_instance=hook_instance, patient_id=patient_id,
                                         cards=cards))

    # Writing and logging -------------------------------------------------------------------------------

    def _write_batch(self, batch: list[IssuedRows]) -> None:
        self._store.write_issued(batch)

    def _refused_closed(self, item: IssuedRows) -> None:
        log.warning("issued cards not recorded: the writer is closed (%d card(s))", len(item.cards))

    def _refused_full(self) -> None:
        log.warning("issued cards not recorded: %d calls already wait to be written (%d call(s) "
                    "dropped so far; feedback on their cards is still accepted)", self._queue.maxsize,
                    self.dropped_calls)

    def _retrying(self, exc: Exception, attempt: int, delay: float) -> None:
        log.warning("issued cards not recorded (%s), attempt %d; retrying in %.1f s",
                    type(exc).__name__, attempt, delay)

    def _gave_up(self, exc: Exception, attempt: int, batch: list[IssuedRows]) -> None:
        cards = sum(len(rows.cards) for rows in batch)
        log.error("issued cards not recorded (%s) after %d attempts: %d card(s) of %d call(s) dropped; "
                  "feedback on them is still accepted", type(exc).__name__, attempt, cards, len(batch))

    def _not_written_at_close(self, count: int) -> None:
        log.error("shutting down with %d call(s) of issued cards not written", count)
