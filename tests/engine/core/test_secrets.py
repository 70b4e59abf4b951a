"""Secrets: requested ones are readable where the task runs; values never leak."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.dag.run.executor import run
from engine.dag.run.secrets import SecretsManager
from engine.errors import NodeFailedError, SecretError
from tests.fixtures import secret_wfs

SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def password_file() -> Iterator[Path]:
    """The secret as a file in the secrets directory the shared cluster's workers read."""
    path = load_settings().secrets_path / "db" / "password"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SECRET + "\n")
    yield path
    path.unlink()


@pytest.mark.usefixtures("ray_cluster")
def test_a_requested_secret_is_read_from_its_file(password_file: Path) -> None:
    result = run(secret_wfs.password_wf.compile(), {})
    assert result.outputs == len(SECRET)
    assert SECRET not in repr(result.record)
    assert SECRET not in secret_wfs.password_wf.compile().spec.to_json()


@pytest.mark.usefixtures("ray_cluster")
def test_a_secret_not_requested_cannot_be_read(password_file: Path) -> None:
    with pytest.raises(NodeFailedError) as info:
        run(secret_wfs.peek_wf.compile(), {})
    message = str(info.value)
    assert "did not request secret 'api/token'" in message
    assert "secret_requests" in message


@pytest.mark.usefixtures("ray_cluster")
def test_a_missing_secret_says_where_to_put_it() -> None:
    with pytest.raises(NodeFailedError) as info:
        run(secret_wfs.missing_wf.compile(), {})
    assert "_FSEC_DB_MISSING" in str(info.value) and "db/missing" in str(info.value)


def test_environment_variable_wins_and_errors_never_show_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "k").write_text("from-file")
    manager = SecretsManager(tmp_path, (("g", "k"),), "t")
    assert manager.get("g", "k") == "from-file"
    assert manager.get("g", "k", encode_mode="rb") == b"from-file"
    monkeypatch.setenv("_FSEC_G_K", "from-env")
    assert manager.get("g", "k") == "from-env"
    with pytest.raises(SecretError) as info:
        manager.get("g", "other")
    assert "from-env" not in str(info.value) and "from-file" not in str(info.value)


def test_outside_executions_any_secret_is_readable(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "y").write_text("v")
    assert SecretsManager(tmp_path, None).get("x", "y") == "v"
