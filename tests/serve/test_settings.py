"""The admin API's settings: defaults, environment variables, config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_settings
from engine.errors import ConfigError


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
