"""Fixtures of the CLI's tests: a real admin API over HTTP (uvicorn in a thread of this
process, on a free port of 127.0.0.1) and a way to run ``flyray`` against it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ray
from click.testing import CliRunner, Result

from engine.cli.main import cli
from engine.config import Settings, load_settings
from engine.dag.run import local_cluster, ray_head
from engine.dag.run.local_cluster import ClusterState
from serve.app import create_app
from serve.control.launching import Launcher, Liveness
from tests.served import serving
from tests.servers import free_port


@dataclass(frozen=True)
class AdminServer:
    """A running admin API and the Flyray home its clients use."""

    endpoint: str
    home: Path  # the clients' FLYRAY_HOME (their blob store is the server's)
    env: dict[str, str]  # what ``flyray`` needs to reach this server


@contextlib.contextmanager
def start_admin(home: Path, launcher: Launcher | None = None, liveness: Liveness | None = None,
                **settings: Any) -> Iterator[AdminServer]:
    """Serve ``create_app`` until closed: without a launcher, registration and reads only;
    with one (and its ``liveness``), executions too."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = Settings(home=home / "server", admin_endpoint=endpoint, **settings)
    app = create_app(server, launcher=launcher, liveness=liveness)
    client_home = home / "client"
    # Clients share the server's blob store, as in a deployment: the admin takes code
    # bundles and file inputs only from there.
    with serving(app, port, "admin-api"):
        yield AdminServer(endpoint, client_home, {"FLYRAY_ADMIN_ENDPOINT": endpoint,
                                                  "FLYRAY_HOME": str(client_home),
                                                  "FLYRAY_BLOB_ROOT": server.blob_root_uri})


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


ROOT = Path(__file__).resolve().parents[3]
FLYRAY = str(Path(sys.executable).parent / "flyray")


@dataclass(frozen=True)
class Home:
    """A private Flyray home and the environment of ``flyray`` commands using it."""

    path: Path
    env: dict[str, str]

    def flyray(self, *args: str, timeout: float = 180,
               **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FLYRAY, *args], cwd=ROOT, env={**self.env, **env},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def state(self) -> ClusterState | None:
        return ClusterState.load(local_cluster.state_path(load_settings(self.env)))


@pytest.fixture
def home() -> Iterator[Home]:
    """A short Flyray home under /tmp (Ray's socket paths); its cluster is stopped (or its
    processes ended) and the home deleted afterwards, whatever happened."""
    if ray.is_initialized():
        ray.shutdown()  # the shared cluster's CPUs are this test's now
    path = Path(tempfile.mkdtemp(prefix="frc", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "FLYRAY_RAY_ADDRESS")}
    env.update(FLYRAY_HOME=str(path), RAY_AUTH_MODE="disabled")
    made = Home(path, env)
    try:
        yield made
    finally:
        made.flyray("cluster", "stop", timeout=60)
        left = made.state()
        if left is not None:
            ray_head.stop_session(left.pid)
        shutil.rmtree(path, ignore_errors=True)
