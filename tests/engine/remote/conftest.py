"""Fixtures of FlyteRemote's tests: the real admin API on Ray Serve (the session's shared
cluster), started once for the tests of this directory and shut down after them (other
tests start Serve on ports of their own), and the fixture package
``tests/fixtures/remote_api`` copied under a fresh name into a source root of its own."""

from __future__ import annotations

import importlib
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import ray

from engine.config import Settings
from engine.configuration import Config, DataConfig, PlatformConfig
from engine.remote import FlyteRemote
from tests.conftest import _start_shared
from tests.serve.conftest import kill_executors
from tests.servers import free_port

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "remote_api"


@dataclass(frozen=True)
class Admin:
    """The running admin API, and a config that reaches it and its blob store."""

    endpoint: str
    config: Config


@pytest.fixture(scope="package")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    """The admin API on Serve, on a free port of 127.0.0.1, running executions on the
    shared cluster; Serve is shut down and driver actors killed afterwards."""
    from ray import serve

    from serve.deployment import start

    if not ray.is_initialized():
        _start_shared()
    home = tmp_path_factory.mktemp("remote-admin")
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = Settings(home=home, admin_endpoint=endpoint)
    try:
        start(settings)
        yield Admin(endpoint, Config(PlatformConfig(endpoint),
                                     DataConfig(settings.blob_root_uri)))
    finally:
        serve.shutdown()
        kill_executors()


@pytest.fixture
def remote(admin: Admin) -> FlyteRemote:
    """A fresh client (nothing cached) of the admin API."""
    return FlyteRemote(admin.config)


@dataclass(frozen=True)
class Package:
    """The fixture package, imported under its fresh name."""

    root: Path  # its source root
    name: str
    tasks: ModuleType
    workflows: ModuleType


@pytest.fixture(scope="package")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Package]:
    """``tests/fixtures/remote_api`` as package ``remote_api_<hex>`` under a source root of
    its own, imported; its modules are forgotten afterwards."""
    name = f"remote_api_{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("src")
    shutil.copytree(FIXTURE, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(root))
    try:
        yield Package(root, name, importlib.import_module(f"{name}.tasks"),
                      importlib.import_module(f"{name}.workflows"))
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]
