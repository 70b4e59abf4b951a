"""current_context().checkpoint: a retried attempt resumes from the last checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import current_context
from engine.catalog.blob import BlobStore, StorageConfig
from engine.dag.run.checkpoint import Checkpoint
from tests.fixtures import children_wfs


@pytest.mark.usefixtures("ray_cluster")
def test_a_retried_attempt_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "log"
    assert children_wfs.checkpointed(steps=10, crash_at=6, log=str(log)) == 6
    assert log.read_text().splitlines() == ["attempt 0 starts at 0", "attempt 1 starts at 6"]


@pytest.mark.usefixtures("ray_cluster")
def test_a_directory_checkpoint_is_restored_on_retry(tmp_path: Path) -> None:
    assert children_wfs.directory_checkpoint(log=str(tmp_path / "log")) == "epoch 3"


@pytest.mark.usefixtures("ray_cluster")
def test_checkpoints_work_on_s3(s3_bucket: StorageConfig, tmp_path: Path) -> None:
    blobs = BlobStore(s3_bucket)
    first = Checkpoint(blobs, "exec", "n0", 0, tmp_path / "a")
    assert first.read() is None and not first.prev_exists()
    first.write(b"step 4")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "weights").write_text("w")
    first.save(tmp_path / "state")
    second = Checkpoint(blobs, "exec", "n0", 1, tmp_path / "b")
    assert second.prev_exists() and second.read() == b"step 4"
    restored = second.restore()
    assert restored is not None and (restored / "weights").read_text() == "w"
    # An attempt that wrote nothing leaves the one before it as the latest.
    third = Checkpoint(blobs, "exec", "n0", 2, tmp_path / "c")
    assert third.read() == b"step 4"
    # Another node's checkpoints are its own.
    assert Checkpoint(blobs, "exec", "n1", 1, tmp_path / "d").read() is None


def test_outside_an_execution_checkpoints_are_local(tmp_path: Path) -> None:
    cp = current_context().checkpoint
    assert cp.read() is None
    with pytest.raises(TypeError, match="takes bytes"):
        cp.write("text")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        cp.save(tmp_path / "missing")
