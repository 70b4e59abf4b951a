"""``engine.configuration.Config`` reads the endpoint, token and blob store as the CLI
does; FlyteRemote's failures to reach or authenticate say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.admin_client import AdminUnreachableError
from engine.configuration import SANDBOX_ENDPOINT, Config, DataConfig, PlatformConfig
from engine.errors import ConfigError
from engine.remote import FlyteRemote, RegistrationError
from tests.engine.cli.conftest import start_admin
from tests.engine.remote.conftest import Package


def test_auto_reads_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLYRAY_ADMIN_ENDPOINT", "http://127.0.0.1:4242")
    monkeypatch.setenv("FLYRAY_ADMIN_TOKEN", "t0ken")
    monkeypatch.setenv("FLYRAY_BLOB_ROOT", f"file://{tmp_path}/blobs")
    config = Config.auto()
    assert config.platform.url == "http://127.0.0.1:4242"
    assert config.platform.token == "t0ken"
    assert config.data_config == DataConfig(f"file://{tmp_path}/blobs")
    assert config.data_config.storage().root == f"file://{tmp_path}/blobs"

    monkeypatch.delenv("FLYRAY_ADMIN_ENDPOINT")
    file = tmp_path / "flyray.toml"
    file.write_text('admin_endpoint = "http://127.0.0.1:5151"\n')
    assert Config.auto(config_file=file).platform.url == "http://127.0.0.1:5151"


def test_for_endpoint_takes_flytekit_and_flyray_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYRAY_ADMIN_TOKEN", "t0ken")
    assert Config.for_endpoint("localhost:30081", insecure=True).platform.url == \
        "http://localhost:30081"
    assert Config.for_endpoint("admin.example.com:443").platform.url == \
        "https://admin.example.com:443"
    assert Config.for_endpoint("dns:///127.0.0.1:1", insecure=True).platform.url == \
        "http://127.0.0.1:1"
    explicit = Config.for_endpoint("http://127.0.0.1:9/")
    assert explicit.platform.url == "http://127.0.0.1:9"
    assert explicit.platform.token == "t0ken"  # from the environment, as the CLI's
    with pytest.raises(ConfigError, match="must look like"):
        _ = Config.for_endpoint("ftp://x:1").platform.url
    changed = explicit.with_params(platform=PlatformConfig("http://127.0.0.1:8"))
    assert changed.platform.url == "http://127.0.0.1:8"
    assert changed.data_config == explicit.data_config


def test_for_sandbox_is_the_local_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLYRAY_ADMIN_ENDPOINT", raising=False)
    assert Config.for_sandbox().platform.url == SANDBOX_ENDPOINT
    monkeypatch.setenv("FLYRAY_ADMIN_ENDPOINT", "http://127.0.0.1:31000")
    assert Config.for_sandbox().platform.url == "http://127.0.0.1:31000"
    monkeypatch.setenv("FLYRAY_ADMIN_ENDPOINT", "https://admin.example.com")
    assert Config.for_sandbox().platform.url == SANDBOX_ENDPOINT


def test_an_unreachable_admin_says_how_to_start_one(closed_endpoint: str) -> None:
    remote = FlyteRemote(Config.for_endpoint(closed_endpoint, insecure=True))
    for call in (lambda: remote.fetch_workflow(name="wf"),
                 remote.recent_executions,
                 lambda: remote.terminate("nope", "why")):
        with pytest.raises(AdminUnreachableError) as caught:
            call()
        assert f"cannot reach the Flyray admin API at {closed_endpoint} (connection " \
               "refused)" in str(caught.value)
        assert "flyray demo start" in str(caught.value)


def test_the_token_comes_from_the_configuration(tmp_path: Path, package: Package,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLYRAY_ADMIN_TOKEN", raising=False)
    with start_admin(tmp_path, admin_token="s3cret") as server:
        # Code bundles go to the server's blob store, as in a deployment.
        monkeypatch.setenv("FLYRAY_BLOB_ROOT", server.env["FLYRAY_BLOB_ROOT"])
        without = FlyteRemote(Config.for_endpoint(server.endpoint, insecure=True))
        with pytest.raises(RegistrationError, match="401 UNAUTHENTICATED"):
            without.register_task(package.tasks.add, version="tok1")
        monkeypatch.setenv("FLYRAY_ADMIN_TOKEN", "s3cret")
        with_token = FlyteRemote(Config.for_endpoint(server.endpoint, insecure=True))
        assert with_token.register_task(package.tasks.add, version="tok1").version == "tok1"
