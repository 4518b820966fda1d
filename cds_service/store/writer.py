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

from cds_service.protocol.response import Card
from cds_service.store.store import IssuedRows, Store

__all__ = ["IssuedCardWriter"]

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


class IssuedCardWriter:
    """The app's `CardRecorder`: queues each call's issued cards for the background writer."""

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
        self._store = store
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._max_batch = max_batch
        self._retry_delays = retry_delays
        self._sleep = sleep
        self._linger = linger_seconds
        self._hurry = threading.Event()  # set by flush(): write what is queued without lingering
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0  # queued calls not yet written (or dropped)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_full_warning = 0.0
        self.dropped_calls = 0  # calls whose cards were never recorded (queue full, or the database failed)

    # The CardRecorder protocol (invocation.py) ---------------------------------------------------------

    def record_issued_cards(self, *, service_id: str, hook_instance: str, patient_id: str, cards: list[Card]) -> None:
        """Queue the cards; never blocks and never raises for the store's sake."""
        if not cards:
            return
        rows = self._store.issued_rows(service_id=service_id, hook_instance=hook_instance, patient_id=patient_id,
                                       cards=cards)
        with self._lock:
            if self._closed:
                log.warning("issued cards not recorded: the writer is closed (%d card(s))", len(rows.cards))
                return
            self._start()
            try:
                self._queue.put_nowait(rows)
            except queue.Full:
                self.dropped_calls += 1
                now = time.monotonic()
                if now >= self._next_full_warning:  # one line per interval, not one per call, in an outage
                    self._next_full_warning = now + FULL_WARNING_INTERVAL_SECONDS
                    log.warning("issued cards not recorded: %d calls already wait to be written (%d call(s) "
                                "dropped so far; feedback on their cards is still accepted)", self._queue.maxsize,
                                self.dropped_calls)
                return
            self._unfinished += 1

    # Flushing and closing ------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued call is written (or dropped); False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._hurry.set()
        with self._idle:
            while self._unfinished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is waiting (for up to `timeout` seconds), then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        if not self.flush(timeout):
            log.error("shutting down with %d call(s) of issued cards not written", self._unfinished)
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:  # still full after the flush timed out: the daemon thread ends with the process
            return
        thread.join(timeout)

    # The thread ----------------------------------------------------------------------------------------

    def _start(self) -> None:  # called with the lock held
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="issued-card-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[IssuedRows] = [first]  # type: ignore[list-item]
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

    def _write(self, batch: list[IssuedRows]) -> None:
        cards = sum(len(rows.cards) for rows in batch)
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            try:
                self._store.write_issued(batch)
                return
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure; the type is logged
                if delay is None:
                    self.dropped_calls += len(batch)
                    log.error("issued cards not recorded (%s) after %d attempts: %d card(s) of %d call(s) dropped; "
                              "feedback on them is still accepted", type(exc).__name__, attempt, cards, len(batch))
                    return
                log.warning("issued cards not recorded (%s), attempt %d; retrying in %.1f s",
                            type(exc).__name__, attempt, delay)
                self._sleep(delay)
