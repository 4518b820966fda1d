"""Fixtures every test module may use. Area-specific helpers live in tests/support/."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Tests that run the CLI in-process (`main(["serve", ...])`) let it set variables for its workers
    (CDS_PUBLIC_BASE_URL...): no test may leave one behind for the next."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build an app with development settings (auth disabled, a fresh SQLite file), overridable per test."""
    clients: list[TestClient] = []

    def build(**overrides: object) -> TestClient:
        values: dict[str, object] = {
            "auth_mode": "disabled",
            "database_url": f"sqlite:///{tmp_path}/cds-{len(clients)}.db",
            "public_base_url": "http://testserver",
        }
        values.update(overrides)
        client = TestClient(create_app(Settings(**values)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
