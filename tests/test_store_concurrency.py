"""Several processes on one database, as several uvicorn workers or instances are: concurrent migrations,
concurrent feedback writers, and the jti replay check racing across processes. SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from sqlalchemy import func, select

from cds_service.settings import Settings
from cds_service.store.models import FeedbackRecord
from cds_service.store.store import open_store
from tests.support.store_cards import accepted, make_card, overridden
from tests.support.store_postgres import store_database_url
from tests.support.store_workers import migrate_at, post_feedback_at, remember_jtis_at

__all__ = ["store_database_url"]  # the fixture, imported for pytest

SERVICE = "foot-calcification-patient-view"
PROCESSES = 3
START_DELAY_SECONDS = 2.0  # long enough for every spawned process to import and connect first


def run_together(function: Any, per_process_args: list[tuple[Any, ...]]) -> list[Any]:
    start_at = time.time() + START_DELAY_SECONDS
    with multiprocessing.get_context("spawn").Pool(len(per_process_args)) as pool:
        return pool.starmap(function, [(*args, start_at) for args in per_process_args], chunksize=1)


def test_workers_starting_together_migrate_once(store_database_url: str) -> None:
    assert run_together(migrate_at, [(store_database_url,)] * PROCESSES) == ["ok"] * PROCESSES


def test_concurrent_feedback_writers_lose_nothing(store_database_url: str) -> None:
    settings = Settings(auth_mode="disabled", database_url=store_database_url)
    store = open_store(settings)
    cards = [make_card(f"node-{i % 4}") for i in range(60)]
    store.record_issued_cards(service_id=SERVICE, hook_instance="h", patient_id="p", cards=cards)
    # Each process sends its own 60 entries (one per card, its own timestamp), plus 20 shared with every
    # other process, which must be stored once in all.
    shared = [overridden(card, at="2026-11-21T09:00:00Z") for card in cards[:20]]
    per_process = [
        [accepted(card, at=f"2026-11-21T10:{p:02d}:00Z") for card in cards] + shared for p in range(PROCESSES)
    ]
    new_counts = run_together(post_feedback_at, [(store_database_url, SERVICE, entries) for entries in per_process])
    with store.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(FeedbackRecord)).scalar_one()
    store.close()
    assert rows == PROCESSES * len(cards) + len(shared)
    assert sum(new_counts) == rows  # each row was reported new by exactly one writer


def test_replayed_jti_is_caught_across_processes(store_database_url: str) -> None:
    open_store(Settings(auth_mode="disabled", database_url=store_database_url)).close()
    jtis = [f"jti-{i}" for i in range(40)]
    winners = run_together(remember_jtis_at, [(store_database_url, jtis)] * PROCESSES)
    accepted_once = [jti for process in winners for jti in process]
    assert sorted(accepted_once) == sorted(jtis)  # every jti accepted by exactly one process

