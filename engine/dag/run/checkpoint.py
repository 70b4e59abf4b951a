"""Intra-task checkpoints: ``current_context().checkpoint``, as flytekit's.

An attempt writes its progress with :meth:`Checkpoint.write` (bytes) or
:meth:`Checkpoint.save` (a file or directory); a retried attempt of the same node
reads the latest checkpoint an earlier attempt left with :meth:`Checkpoint.read` or
:meth:`Checkpoint.restore`, and so resumes instead of starting over. Checkpoints
live in the blob store under ``checkpoints/<execution>/<node>/<attempt>/``, so an
attempt finds them whichever Ray node it runs on.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.catalog.blob import BlobStore

# Where write() and read() keep their bytes inside an attempt's checkpoint.
_BYTES = "_checkpoint"


class Checkpoint:
    """The checkpoints of one node: this attempt's to write, earlier attempts' to read."""

    def __init__(self, blobs: BlobStore, execution: str, node: str, attempt: int,
                 scratch: Path) -> None:
        self._blobs = blobs
        self._location = [execution, node or "task"]
        self._attempt = attempt
        self._scratch = scratch

    def _uri(self, attempt: int) -> str:
        return self._blobs.uri("checkpoints", *self._location, str(attempt))

    def _previous(self) -> str | None:
        """The latest checkpoint an earlier attempt wrote, if any."""
        for attempt in range(self._attempt - 1, -1, -1):
            uri = self._uri(attempt)
            if self._blobs.exists(uri):
                return uri
        return None

    def prev_exists(self) -> bool:
        return self._previous() is not None

    def read(self) -> bytes | None:
        """The bytes the latest earlier attempt wrote, or None."""
        previous = self._previous()
        if previous is None or not self._blobs.exists(f"{previous}/{_BYTES}"):
            return None
        return self._blobs.read_bytes(f"{previous}/{_BYTES}")

    def write(self, data: bytes) -> None:
        """Save ``data`` as this attempt's checkpoint (replacing what it wrote before)."""
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"Checkpoint.write takes bytes, got {type(data).__name__}")
        self._blobs.write_bytes(f"{self._uri(self._attempt)}/{_BYTES}", bytes(data))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save a local file or directory as this attempt's checkpoint."""
        local = Path(path)
        target = self._uri(self._attempt)
        if local.is_dir():
            self._blobs.put_dir(str(local), target)
        elif local.is_file():
            self._blobs.put_file(str(local), f"{target}/{local.name}")
        else:
            raise FileNotFoundError(f"Checkpoint.save: {local} is neither a file nor a directory")

    def restore(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Download the latest earlier checkpoint into ``path`` (by default a directory in
        the attempt's working directory); None when there is none."""
        previous = self._previous()
        if previous is None:
            return None
        local = Path(path) if path is not None else self._scratch / "checkpoint"
        local.mkdir(parents=True, exist_ok=True)
        self._blobs.get_dir(previous, str(local))
        return local
