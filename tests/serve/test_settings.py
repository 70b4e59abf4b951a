"""The admin API's settings: defaults, environment variables, config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_settings
from engine.errors import ConfigError
from serve.control.launching import Liveness


def test_defaults_live_under_the_flyray_home(tmp_path: Path) -> None:
    settings = load_settings({"FLYRAY_HOME": str(tmp_path)})
    assert settings.admin_db_url_or_default == f"sqlite:///{tmp_path.resolve()}/admin.db"
    assert settings.admin_token is None
    assert settings.admin_endpoint == "http://127.0.0.1:30080"
    assert settings.admin_max_request_bytes == 10 * 1024 * 1024


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'admin_db_url = "postgresql+psycopg://u@db/admin"\nadmin_token = "from-file"\n'
        'admin_max_request_bytes = "1Mi"\n')
    from_file = load_settings({"FLYRAY_HOME": str(tmp_path)})
    assert from_file.admin_db_url_or_default == "postgresql+psycopg://u@db/admin"
    assert (from_file.admin_token, from_file.admin_max_request_bytes) == ("from-file", 1 << 20)

    from_env = load_settings({"FLYRAY_HOME": str(tmp_path), "FLYRAY_ADMIN_TOKEN": "env",
                              "FLYRAY_ADMIN_ENDPOINT": "http://0.0.0.0:8080",
                              "FLYRAY_ADMIN_MAX_REQUEST_BYTES": "2048"})
    assert (from_env.admin_token, from_env.admin_endpoint) == ("env", "http://0.0.0.0:8080")
    assert from_env.admin_max_request_bytes == 2048


@pytest.mark.parametrize("value", ["0", "lots", "-1"])
def test_a_bad_body_limit_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="admin_max_request_bytes"):
        load_settings({"FLYRAY_HOME": str(tmp_path), "FLYRAY_ADMIN_MAX_REQUEST_BYTES": value})


def test_the_executor_policy_comes_from_the_settings(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("warm_executors = 2\nexecutor_idle_s = 30\n")
    env = {"FLYRAY_HOME": str(tmp_path), "FLYRAY_EXECUTOR_CAPACITY": "8",
           "FLYRAY_EXECUTOR_IDLE_S": "12.5"}
    liveness = Liveness.of(load_settings(env))
    assert (liveness.warm_executors, liveness.executor_idle_s, liveness.executor_capacity) \
        == (2, 12.5, 8)
    default = Liveness.of(load_settings({"FLYRAY_HOME": str(tmp_path / "other")}))
    assert (default.warm_executors, default.executor_idle_s, default.executor_capacity) \
        == (1, 300.0, 64)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("FLYRAY_WARM_EXECUTORS", "-1", "warm_executors must be a whole number >= 0"),
    ("FLYRAY_EXECUTOR_CAPACITY", "0", "executor_capacity must be a whole number >= 1"),
    ("FLYRAY_EXECUTOR_IDLE_S", "0", "executor_idle_s must be a positive number of seconds"),
    ("FLYRAY_EXECUTOR_IDLE_S", "soon", "executor_idle_s must be a positive number"),
])
def test_a_bad_executor_setting_is_a_config_error_naming_it(
        tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"environment variable {variable}: {message}"):
        load_settings({"FLYRAY_HOME": str(tmp_path), variable: value})
