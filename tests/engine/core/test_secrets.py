"""Secrets: requested ones are readable where the task runs; values never leak."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Secret, task
from engine.catalog.blob import StorageConfig
from engine.catalog.memo import CacheSettings
from engine.config import load_settings
from engine.dag.run.context import ExecutionParameters, NodeServices
from engine.dag.run.executor import run
from engine.dag.run.secrets import SecretsManager
from engine.dag.run.worker import execute_node
from engine.dag.spec import TaskSpec
from engine.dag.spec.task import SecretRequest
from engine.errors import (
    AttemptError,
    ConfigError,
    ErrorKind,
    NodeFailedError,
    SecretError,
    SpecError,
)
from engine.testing import provide_secrets
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
    manager = SecretsManager(tmp_path, (SecretRequest("g", "k"),), "t")
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


# --- mount requirements: ENV_VAR and FILE, as flytekit mounts them ----------------------


def test_mounts_are_recorded_and_specs_of_any_secrets_keep_their_json() -> None:
    def secrets_json(t: object) -> object:
        return t.spec().to_dict()["metadata"]["secrets"]  # type: ignore[attr-defined]

    assert secrets_json(secret_wfs.uses_password) == [["db", "password"]]
    assert secrets_json(secret_wfs.password_from_env) == [["db", "password", "ENV_VAR"]]
    spec = secret_wfs.password_from_file.spec()
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    assert spec.metadata.secrets == (SecretRequest("db", "password", "FILE"),)
    broken = spec.to_dict()
    broken["metadata"]["secrets"] = [["db", "password", "VOLUME"]]
    with pytest.raises(SpecError, match="mount one of"):
        TaskSpec.from_dict(broken)


def test_a_mount_requirement_that_is_not_a_mount_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="mount_requirement must be Secret.MountType"):
        @task(secret_requests=[Secret(group="db", key="password",
                                      mount_requirement="FILE")])  # type: ignore[arg-type]
        def reads() -> None: ...


def test_an_attempt_mounts_its_secrets_and_removes_them_after(tmp_path: Path) -> None:
    # execute_node is what a worker runs; workers are reused, so nothing may stay behind.
    services = NodeServices(StorageConfig(root=f"file://{tmp_path}/blobs"),
                            CacheSettings("", 1 << 20))
    with provide_secrets({("db", "password"): SECRET}):
        for t in (secret_wfs.password_from_env, secret_wfs.password_from_file):
            params = ExecutionParameters(
                execution_id="f" + uuid.uuid4().hex[:19], node_id="n0", task_name=t.name,
                secret_requests=t.spec().metadata.secrets)
            values, _ = execute_node(t, {}, params, services)
            assert values == ([len(SECRET)] if t is secret_wfs.password_from_env
                              else [len(SECRET), 0o600])
            assert not params.scratch_path.exists()
    assert "_FSEC_DB_PASSWORD" not in os.environ


def test_an_unavailable_mounted_secret_fails_the_attempt_as_the_users(tmp_path: Path) -> None:
    services = NodeServices(StorageConfig(root=f"file://{tmp_path}/blobs"),
                            CacheSettings("", 1 << 20))
    t = secret_wfs.password_from_env
    params = ExecutionParameters(execution_id="f" + uuid.uuid4().hex[:19], node_id="n0",
                                 task_name=t.name, secret_requests=t.spec().metadata.secrets)
    with pytest.raises(AttemptError) as info:
        execute_node(t, {}, params, services)
    assert info.value.kind is ErrorKind.USER
    assert "_FSEC_DB_PASSWORD" in info.value.message and "db/password" in info.value.message


@pytest.mark.usefixtures("ray_cluster")
def test_mounted_secrets_are_where_flytekit_puts_them_on_ray() -> None:
    with provide_secrets({("db", "password"): SECRET}):
        result = run(secret_wfs.mounted_wf.compile(), {})
    assert result.outputs == (len(SECRET), len(SECRET), len(SECRET), 0o600)
    assert SECRET not in repr(result.record)
    assert SECRET not in secret_wfs.mounted_wf.compile().spec.to_json()
