"""Fixtures of the control plane's tests: an empty admin database on every backend
(a SQLite file, a fresh database on the session's PostgreSQL server), a store on it,
and the admin API over that store through FastAPI's TestClient; for executions, the
same API with the Ray launcher on the session's shared cluster."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from fastapi.testclient import TestClient

from engine.config import Settings
from serve.app import create_app
from serve.control.launcher import NAMESPACE, RayLauncher, executor_names
from serve.control.launching import Liveness
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


# --- executions: the admin API with the Ray launcher on the session's cluster -----------

# Fast timings, so a lost driver is found within a second or two.
FAST = Liveness(heartbeat_s=0.5, stale_after_s=20.0, start_grace_s=60.0, missing_grace_s=1.0,
                handoff_grace_s=10.0,
                supervise_every_s=0.25, max_driver_restarts=3, terminate_wait_s=20.0)


def kill_executors() -> None:
    """Kill every executor still there (a test's leftovers: each test has its own admin
    database, and executors belong to one)."""
    for name in executor_names():
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)


@pytest.fixture
def launcher(ray_cluster: None) -> Iterator[RayLauncher]:
    """The Ray launcher; executors left when the test ends are killed."""
    yield RayLauncher()
    kill_executors()


def _remote_client(store: AdminStore, home: Path, launcher: RayLauncher) -> TestClient:
    app = create_app(Settings(home=home), store=store, launcher=launcher, liveness=FAST)
    return TestClient(app)


@pytest.fixture
def remote(store: AdminStore, tmp_path: Path, launcher: RayLauncher) -> Iterator[TestClient]:
    """The admin API running executions on Ray, over SQLite and PostgreSQL; its lifespan
    (the supervisor) runs while the test does."""
    with _remote_client(store, tmp_path, launcher) as client:
        yield client


@pytest.fixture
def remote_sqlite(tmp_path: Path, launcher: RayLauncher) -> Iterator[TestClient]:
    """As ``remote``, over SQLite only: for tests whose subject is not the database."""
    admin = AdminStore(f"sqlite:///{tmp_path}/admin.db")
    try:
        with _remote_client(admin, tmp_path, launcher) as client:
            yield client
    finally:
        admin.close()
