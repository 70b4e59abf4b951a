"""Fixtures of the control plane's tests: an empty admin database on every backend
(a SQLite file, a fresh database on the session's PostgreSQL server), a store on it,
and the admin API over that store through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.config import Settings
from serve.app import create_app
from serve.store import AdminStore
from tests.conftest import create_database, drop_database


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty admin database: a SQLite file of the test's own, or a fresh database on
    the session's PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/admin.db"
        return
    url = create_database(request.getfixturevalue("postgres_server"))
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def store(admin_url: str) -> Iterator[AdminStore]:
    admin = AdminStore(admin_url)
    try:
        yield admin
    finally:
        admin.close()


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(store: AdminStore, tmp_path: Path) -> Iterator[MakeClient]:
    """Builds a TestClient of the admin API over ``store`` with some settings changed."""
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(home=tmp_path, **settings), store=store))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
