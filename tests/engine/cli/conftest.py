"""Fixtures of the CLI's tests: a real admin API over HTTP (uvicorn in a thread of this
process, on a free port of 127.0.0.1) and a way to run ``flyray`` against it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.config import Settings
from serve.app import create_app
from serve.control.launching import Launcher, Liveness
from tests.conftest import free_port


@dataclass(frozen=True)
class AdminServer:
    """A running admin API and the Flyray home its clients use."""

    endpoint: str
    home: Path  # the clients' FLYRAY_HOME: blobs (code bundles) land under it
    env: dict[str, str]  # what ``flyray`` needs to reach this server


@contextlib.contextmanager
def start_admin(home: Path, launcher: Launcher | None = None, liveness: Liveness | None = None,
                **settings: Any) -> Iterator[AdminServer]:
    """Serve ``create_app`` until closed: without a launcher, registration and reads only;
    with one (and its ``liveness``), executions too."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    app = create_app(Settings(home=home / "server", admin_endpoint=endpoint, **settings),
                     launcher=launcher, liveness=liveness)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="admin-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the admin API did not start")
        time.sleep(0.05)
    client_home = home / "client"
    try:
        yield AdminServer(endpoint, client_home, {"FLYRAY_ADMIN_ENDPOINT": endpoint,
                                                  "FLYRAY_HOME": str(client_home)})
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def admin_server(tmp_path: Path) -> Iterator[AdminServer]:
    with start_admin(tmp_path) as server:
        yield server


Flyray = Callable[..., Result]


@pytest.fixture
def flyray(admin_server: AdminServer) -> Flyray:
    """Runs ``flyray ARGS`` in this process against ``admin_server``."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), env={**admin_server.env, **(env or {})})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke
