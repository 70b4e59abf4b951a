"""Workflows whose blob store is S3 (moto's server on localhost), on the shared cluster:
files and directories written by one task are read by others through the bucket, and a
store that cannot be used fails the workflow before anything runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.catalog.blob import DIRECTORY_MARKER, StorageConfig
from engine.config import Settings, load_settings
from engine.dag.run.executor import run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodeRecord
from engine.errors import StorageError
from engine.types import FlyteDirectory, FlyteFile
from tests.conftest import S3Server
from tests.fixtures import basic_wfs, storage_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


def s3_settings(config: StorageConfig, home: Path, **overrides: str) -> Settings:
    """Settings as the environment of a user of this S3 store would give them."""
    env = {
        "FLYRAY_HOME": str(home),
        "FLYRAY_BLOB_ROOT": config.root,
        "FLYRAY_S3_ENDPOINT_URL": config.s3_endpoint_url or "",
        "AWS_REGION": config.s3_region or "",
        "AWS_ACCESS_KEY_ID": config.s3_access_key_id or "",
        "AWS_SECRET_ACCESS_KEY": config.s3_secret_access_key or "",
        "FLYRAY_LOG_TO_DRIVER": "false",
    }
    env.update(overrides)
    return load_settings(env)


def bucket_and_prefix(config: StorageConfig) -> tuple[str, str]:
    bucket, _, prefix = config.root.removeprefix("s3://").partition("/")
    return bucket, prefix


def list_keys(server: S3Server, bucket: str, prefix: str) -> dict[str, bytes]:
    """Key to content of every object under ``prefix``, read with boto3 (not the engine).

    The empty marker that makes an uploaded directory exist even when empty is left out.
    """
    client = server.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/" + DIRECTORY_MARKER):
                continue
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


class EventLog(ExecutionHooks):
    """Every hook call, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def on_execution_start(self, record: ExecutionRecord) -> None:
        self.events.append("start")

    def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
        self.events.append(f"{node.node_id}:{node.phase.value}")

    def on_attempt_end(self, record: ExecutionRecord, node: NodeRecord,
                       attempt: AttemptRecord) -> None:
        self.events.append(f"{node.node_id}:attempt")

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.events.append("end")


def files_and_dirs_inputs(marker_dir: Path) -> dict[str, Any]:
    return {"text": "hello from S3", "n": 3, "marker_dir": str(marker_dir)}


# --- a working store ---------------------------------------------------------------------


def test_files_and_directories_pass_between_tasks_through_the_bucket(
    s3_bucket: StorageConfig, s3_server: S3Server, tmp_path: Path
) -> None:
    wf = storage_wfs.files_and_dirs
    result = run(wf.compile(), files_and_dirs_inputs(tmp_path), settings=s3_settings(
        s3_bucket, tmp_path / "home"))
    text, contents, f, d = result.outputs

    # Downstream tasks, in other workers, read what the writers uploaded.
    assert text == "hello from S3"
    assert contents == {"part-0.txt": "part 0", "part-1.txt": "part 1", "part-2.txt": "part 2",
                        "nested/leaf.txt": "leaf"}

    bucket, root = bucket_and_prefix(s3_bucket)
    raw = f"{root}/raw/{result.record.name}/"
    objects = list_keys(s3_server, bucket, raw)
    assert isinstance(f, FlyteFile)
    assert isinstance(d, FlyteDirectory)
    assert f.remote_source is not None
    assert f.remote_source.startswith(f"s3://{bucket}/{raw}")
    assert objects[f.remote_source.removeprefix(f"s3://{bucket}/")] == b"hello from S3"
    assert d.remote_source is not None
    dir_key = d.remote_source.removeprefix(f"s3://{bucket}/").rstrip("/")
    assert dir_key.startswith(raw)
    assert {k.removeprefix(dir_key + "/"): v for k, v in objects.items()
            if k.startswith(dir_key + "/")} == {
        "part-0.txt": b"part 0", "part-1.txt": b"part 1", "part-2.txt": b"part 2",
        "nested/leaf.txt": b"leaf"}
    # Nothing but the two outputs was written for this execution.
    assert len(objects) == 5
    # The driver can read the outputs too (with the store's credentials).
    assert Path(f.download()).read_text() == "hello from S3"
    assert sorted(rel for _, rel in d.crawl()) == [
        "nested/leaf.txt", "part-0.txt", "part-1.txt", "part-2.txt"]


def test_a_local_file_input_is_uploaded_under_the_execution(
    s3_bucket: StorageConfig, s3_server: S3Server, tmp_path: Path
) -> None:
    local = tmp_path / "given.txt"
    local.write_text("given by the caller")
    wf = storage_wfs.read_given
    result = run(wf.compile(), {"f": FlyteFile(str(local))},
                 settings=s3_settings(s3_bucket, tmp_path / "home"))

    assert result.outputs == "given by the caller"
    bucket, root = bucket_and_prefix(s3_bucket)
    objects = list_keys(s3_server, bucket, f"{root}/raw/{result.record.name}/inputs/")
    assert list(objects.values()) == [b"given by the caller"]
    [key] = objects
    assert key.endswith("/given.txt")


def test_two_executions_write_under_their_own_names(
    s3_bucket: StorageConfig, s3_server: S3Server, tmp_path: Path
) -> None:
    wf = storage_wfs.files_and_dirs
    settings = s3_settings(s3_bucket, tmp_path / "home")
    first = run(wf.compile(), files_and_dirs_inputs(tmp_path), settings=settings)
    second = run(wf.compile(), files_and_dirs_inputs(tmp_path), settings=settings)
    assert first.record.name != second.record.name
    assert first.outputs[2].remote_source != second.outputs[2].remote_source
    bucket, root = bucket_and_prefix(s3_bucket)
    for result in (first, second):
        assert len(list_keys(s3_server, bucket, f"{root}/raw/{result.record.name}/")) == 5


# --- a store that cannot be used ---------------------------------------------------------


def assert_fails_before_anything_runs(settings: Settings, marker_dir: Path) -> str:
    """Run files_and_dirs; it must raise StorageError with no node run; returns the message."""
    wf = storage_wfs.files_and_dirs
    log = EventLog()
    with pytest.raises(StorageError) as info:
        run(wf.compile(), files_and_dirs_inputs(marker_dir), hooks=[log], settings=settings)
    assert log.events == []
    assert not (marker_dir / "write_file").exists()
    message = str(info.value)
    assert "workflow 'tests.fixtures.storage_wfs.files_and_dirs'" in message
    assert "node 'n0'" in message
    assert "output 'o0'" in message
    assert settings.blob_root in message
    assert "Traceback" not in message
    assert "botocore" not in message.lower()
    assert "aiobotocore" not in message.lower()
    return message


def test_a_missing_bucket_fails_the_workflow_before_anything_runs(
    s3_bucket: StorageConfig, tmp_path: Path
) -> None:
    bucket = f"flyray-missing-{uuid.uuid4().hex[:12]}"
    settings = s3_settings(s3_bucket, tmp_path / "home",
                           FLYRAY_BLOB_ROOT=f"s3://{bucket}/flyray")
    message = assert_fails_before_anything_runs(settings, tmp_path)
    assert f"bucket '{bucket}' does not exist" in message


@pytest.mark.timeout(60)  # a hang guard well above connect_timeout x attempts, not a measure
def test_an_unreachable_endpoint_fails_the_workflow_before_anything_runs(
    s3_bucket: StorageConfig, closed_endpoint: str, tmp_path: Path
) -> None:
    settings = s3_settings(s3_bucket, tmp_path / "home", FLYRAY_S3_ENDPOINT_URL=closed_endpoint)
    message = assert_fails_before_anything_runs(settings, tmp_path)
    assert "unreachable" in message
    assert closed_endpoint in message
    assert "does not exist" not in message


def test_a_workflow_that_writes_no_files_does_not_need_the_store(
    s3_bucket: StorageConfig, tmp_path: Path
) -> None:
    bucket = f"flyray-missing-{uuid.uuid4().hex[:12]}"
    settings = s3_settings(s3_bucket, tmp_path / "home",
                           FLYRAY_BLOB_ROOT=f"s3://{bucket}/flyray")
    wf = basic_wfs.chain
    assert run(wf.compile(), {"n": 10}, settings=settings).outputs == 10 + 0 + 1 + 2
