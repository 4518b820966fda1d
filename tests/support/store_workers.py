"""Functions run in separate processes (multiprocessing, spawn) by the store concurrency tests.

Each process opens its own store (its own engine and connections), as a uvicorn worker does. They start
at a shared wall-clock instant so their work overlaps.
"""

from __future__ import annotations

import time
from typing import Any

from cds_service.protocol.feedback import FeedbackRequest
from cds_service.settings import Settings
from cds_service.store.store import open_store

__all__ = ["migrate_at", "post_feedback_at", "remember_jtis_at"]


def _wait(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def _settings(url: str) -> Settings:
    return Settings(auth_mode="disabled", database_url=url)


def migrate_at(url: str, start_at: float) -> str:
    _wait(start_at)
    open_store(_settings(url)).close()
    return "ok"


def post_feedback_at(url: str, service_id: str, entries: list[dict[str, Any]], start_at: float) -> int:
    """One feedback POST per entry, as many separate transactions; returns how many were new."""
    store = open_store(_settings(url))
    _wait(start_at)
    try:
        return sum(
            store.record_feedback(service_id=service_id, feedback=FeedbackRequest.model_validate({"feedback": [e]}))
            for e in entries
        )
    finally:
        store.close()


def remember_jtis_at(url: str, jtis: list[str], start_at: float) -> list[str]:
    """The jtis this process was first to record."""
    store = open_store(_settings(url))
    _wait(start_at)
    expires = int(time.time()) + 600
    try:
        issuer = "https://ehr.test.example"
        return [jti for jti in jtis if store.remember_jti(issuer=issuer, jti=jti, expires_at=expires)]
    finally:
        store.close()
