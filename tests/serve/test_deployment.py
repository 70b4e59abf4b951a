"""The admin API on Ray Serve (the session's shared cluster). Which modules of ``serve``
import Ray is checked in tests/test_layers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.admin_client import AdminClient
from engine.config import Settings
from engine.errors import ConfigError
from tests.servers import free_port


def test_serve_runs_the_admin_api_on_the_configured_endpoint(ray_cluster: None,
                                                            tmp_path: Path) -> None:
    from ray import serve

    from serve.deployment import start

    endpoint = f"http://127.0.0.1:{free_port()}"
    try:
        start(Settings(home=tmp_path, admin_endpoint=endpoint))
        admin = AdminClient(endpoint)
        assert admin.get("/healthz") == {"status": "ok"}
        projects = admin.get("/api/v1/projects")["projects"]
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
