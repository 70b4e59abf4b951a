"""The admin API on Ray Serve (the session's shared cluster), and Ray kept out of the rest
of ``serve``."""

from __future__ import annotations

import ast
import json
import urllib.request
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from tests.conftest import free_port

SERVE = Path(__file__).resolve().parents[2] / "serve"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_deployment_launcher_and_driver_modules_import_ray() -> None:
    importing = sorted(str(p.relative_to(SERVE)) for p in SERVE.rglob("*.py")
                       if any(m == "ray" or m.startswith("ray.") for m in imported_modules(p)))
    assert importing == ["deployment.py", "driver.py", "launcher.py"]


def test_serve_runs_the_admin_api_on_the_configured_endpoint(ray_cluster: None,
                                                            tmp_path: Path) -> None:
    from ray import serve

    from serve.deployment import start

    endpoint = f"http://127.0.0.1:{free_port()}"
    try:
        start(Settings(home=tmp_path, admin_endpoint=endpoint))
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=30) as reply:
            assert reply.status == 200
            assert json.loads(reply.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"{endpoint}/api/v1/projects", timeout=30) as reply:
            projects = json.loads(reply.read())["projects"]
            assert [p["id"] for p in projects] == ["flytesnacks"]
    finally:
        serve.shutdown()
    # The replica used the database the settings name.
    assert (tmp_path / "admin.db").is_file()


@pytest.mark.parametrize("endpoint", ["127.0.0.1:30080", "https://127.0.0.1:1",
                                      "http://127.0.0.1:notaport", "http://:30080",
                                      "http://127.0.0.1:30080/admin"])
def test_a_malformed_admin_endpoint_is_a_config_error(tmp_path: Path, endpoint: str) -> None:
    from serve.deployment import bind_address

    with pytest.raises(ConfigError, match="must look like"):
        bind_address(Settings(home=tmp_path, admin_endpoint=endpoint))
    assert bind_address(Settings(home=tmp_path)) == ("127.0.0.1", 30080)
