"""Object spilling of a local cluster Flyray starts itself: to S3 (moto's server) and to a
directory. Each test shuts the shared cluster down and starts its own through
``ensure_ray`` with a small object store, so that a workflow's intermediate data must spill.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray

from engine.catalog.blob import StorageConfig
from engine.config import Settings, load_settings
from engine.dag.run import spilling
from engine.dag.run.cluster import ensure_ray
from engine.dag.run.executor import run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodeRecord
from engine.errors import StorageError
from tests.conftest import S3Server
from tests.fixtures import storage_wfs

pytestmark = [pytest.mark.fresh_cluster, pytest.mark.timeout(240)]

# Five frames of FRAME_MB MiB each (150 MiB) in a 100 MiB object store: Ray must spill.
FRAME_MB = 30
OBJECT_STORE = "100Mi"
OBJECT_STORE_BYTES = 100 * 2**20
EXPECTED_SUM = float(sum(range(1, 6)) * FRAME_MB * storage_wfs.ROWS_PER_MB)
SUM_NODE = "n5"


@pytest.fixture
def own_cluster() -> Iterator[None]:
    """No cluster when the test starts (the shared one is shut down); none after it."""
    if ray.is_initialized():
        ray.shutdown()  # the shared cluster; the conftest fixture restarts it if needed
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """``ensure_ray`` exports the S3 settings as AWS_* variables for Ray's IO workers;
    put the environment back as it was after the test."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


@pytest.fixture
def cleanup_hooks(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """Exit hooks the engine registers to delete S3 spill files, captured instead of left
    to run at interpreter exit (when moto's server is gone); other registrations pass."""
    captured: list[Callable[[], None]] = []
    real_register = atexit.register

    def register(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if func is spilling._delete_spilled:
            captured.append(lambda: func(*args, **kwargs))
            return func
        return real_register(func, *args, **kwargs)

    monkeypatch.setattr(atexit, "register", register)
    return captured


def cluster_settings(home: Path, spill_uri: str, s3: StorageConfig | None = None) -> Settings:
    env = {
        "FLYRAY_HOME": str(home),
        "FLYRAY_RAY_ADDRESS": "local",
        "FLYRAY_RAY_NUM_CPUS": "2",
        "FLYRAY_OBJECT_STORE_MEMORY": OBJECT_STORE,
        "FLYRAY_SPILL_URI": spill_uri,
        "FLYRAY_BLOB_ROOT": f"file://{home}/blobs",
        "FLYRAY_LOG_TO_DRIVER": "false",
    }
    if s3 is not None:
        env.update({
            "FLYRAY_S3_ENDPOINT_URL": s3.s3_endpoint_url or "",
            "AWS_REGION": s3.s3_region or "",
            "AWS_ACCESS_KEY_ID": s3.s3_access_key_id or "",
            "AWS_SECRET_ACCESS_KEY": s3.s3_secret_access_key or "",
        })
    return load_settings(env)


class SnapshotBeforeSum(ExecutionHooks):
    """Calls ``snapshot`` when the final node's attempt ends: every frame is then still
    referenced by the driver, so what was spilled is still in the spill target."""

    def __init__(self, snapshot: Callable[[], dict[str, int]]) -> None:
        self.snapshot = snapshot
        self.seen: dict[str, int] | None = None

    def on_attempt_end(self, record: ExecutionRecord, node: NodeRecord,
                       attempt: AttemptRecord) -> None:
        if node.node_id == SUM_NODE:
            self.seen = self.snapshot()


def bucket_of(config: StorageConfig) -> str:
    return config.root.removeprefix("s3://").split("/", 1)[0]


def keys_under(server: S3Server, bucket: str, prefix: str) -> dict[str, int]:
    """Key to size of every object under ``prefix``, listed with boto3."""
    client = server.client()
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = int(item["Size"])
    return found


def run_big_frames(settings: Settings, hooks: list[ExecutionHooks]) -> float:
    wf = storage_wfs.big_frames
    compiled = wf.compile()
    assert compiled.spec.nodes[-1].id == SUM_NODE  # the hook waits for this node
    result = run(compiled, {"mb": FRAME_MB}, hooks=hooks, settings=settings)
    return float(result.outputs)


# --- S3 ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("own_cluster", "restored_environ")
def test_workflow_larger_than_the_object_store_spills_to_s3(
    s3_bucket: StorageConfig, s3_server: S3Server, tmp_path: Path,
    cleanup_hooks: list[Callable[[], None]],
) -> None:
    bucket = bucket_of(s3_bucket)
    settings = cluster_settings(tmp_path, f"s3://{bucket}/spill", s3_bucket)
    ensure_ray(settings)
    assert ray.is_initialized()
    assert ray.cluster_resources()["CPU"] == 2
    assert ray.cluster_resources()["object_store_memory"] == OBJECT_STORE_BYTES

    hook = SnapshotBeforeSum(lambda: keys_under(s3_server, bucket, "spill/"))
    assert run_big_frames(settings, [hook]) == EXPECTED_SUM

    # Listed while the cluster is up: the spill files are in the bucket, under a prefix
    # of this cluster's own, and hold at least what did not fit in the object store.
    spilled = keys_under(s3_server, bucket, "spill/")
    assert hook.seen, "nothing was spilled to S3 while the frames were held"
    assert spilled
    sessions = {key.split("/")[1] for key in spilled}
    assert len(sessions) == 1
    [session] = sessions
    assert session.startswith("flyray-")
    assert sum(spilled.values()) >= 50 * 2**20
    # Nothing was written outside the spill prefix.
    assert set(keys_under(s3_server, bucket, "")) == set(spilled)

    # The engine's exit hook shuts Ray down, then deletes this cluster's spill files.
    assert len(cleanup_hooks) == 1
    cleanup_hooks[0]()
    assert not ray.is_initialized()
    assert keys_under(s3_server, bucket, "spill/") == {}


@pytest.mark.usefixtures("own_cluster", "restored_environ")
def test_spilling_to_a_missing_bucket_fails_before_ray_starts(
    s3_bucket: StorageConfig, tmp_path: Path, cleanup_hooks: list[Callable[[], None]]
) -> None:
    bucket = f"flyray-missing-{uuid.uuid4().hex[:12]}"
    uri = f"s3://{bucket}/spill"
    settings = cluster_settings(tmp_path, uri, s3_bucket)
    with pytest.raises(StorageError) as info:
        ensure_ray(settings)
    assert not ray.is_initialized()
    message = str(info.value)
    assert uri in message
    assert f"bucket '{bucket}' does not exist" in message
    assert "spill" in message
    assert "Traceback" not in message
    assert "botocore" not in message.lower()
    assert cleanup_hooks == []


@pytest.mark.usefixtures("own_cluster", "restored_environ")
def test_spilling_to_an_unreachable_endpoint_fails_before_ray_starts(
    s3_bucket: StorageConfig, closed_endpoint: str, tmp_path: Path,
    cleanup_hooks: list[Callable[[], None]],
) -> None:
    uri = f"s3://{bucket_of(s3_bucket)}/spill"
    settings = cluster_settings(tmp_path, uri, replace(s3_bucket,
                                                       s3_endpoint_url=closed_endpoint))
    with pytest.raises(StorageError) as info:
        ensure_ray(settings)
    assert not ray.is_initialized()
    message = str(info.value)
    assert uri in message
    assert "unreachable" in message
    assert "Traceback" not in message
    assert cleanup_hooks == []


# --- a local directory -------------------------------------------------------------------


@pytest.mark.usefixtures("own_cluster", "restored_environ")
@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_workflow_larger_than_the_object_store_spills_to_a_directory(
    tmp_path: Path, as_uri: bool
) -> None:
    target = tmp_path / "spill" / "here"  # does not exist yet: the engine makes it
    settings = cluster_settings(tmp_path / "home", f"file://{target}" if as_uri else str(target))
    ensure_ray(settings)
    assert target.is_dir()

    def spill_files() -> dict[str, int]:
        return {p.relative_to(target).as_posix(): p.stat().st_size
                for p in target.rglob("*") if p.is_file()}

    hook = SnapshotBeforeSum(spill_files)
    assert run_big_frames(settings, [hook]) == EXPECTED_SUM
    assert hook.seen, "nothing was spilled to the directory while the frames were held"
    # Ray writes its files in a subdirectory of the target, one per node.
    assert all(rel.split("/")[0].startswith("ray_spilled_objects") for rel in hook.seen)
    assert sum(hook.seen.values()) >= 50 * 2**20


@pytest.mark.usefixtures("own_cluster", "restored_environ")
def test_spilling_to_a_path_that_cannot_be_a_directory_fails_before_ray_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    uri = f"file://{tmp_path}/a-file/spill"
    with pytest.raises(StorageError) as info:
        ensure_ray(cluster_settings(tmp_path / "home", uri))
    assert not ray.is_initialized()
    assert uri in str(info.value)
