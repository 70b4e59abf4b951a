"""``FlyteFile``, at flytekit's module path: a file produced or consumed by a task."""

from __future__ import annotations

import hashlib
import os

from engine.catalog.blob import BlobStore
from engine.types._blob import Blob
from engine.types.hashing import update_with_file


class FlyteFile(Blob):
    """A file. Return a local path (or a FlyteFile of one) from a task and it is uploaded
    once to the blob store; a task receiving it downloads it on first use (``open``,
    ``download()``, ``os.fspath``). ``FlyteFile[typing.TypeVar("csv")]`` tags a format.
    """

    def open(self, mode: str = "rb") -> object:
        """Open the file (downloading it first when it is remote)."""
        if "r" in mode:
            return open(self.download(), mode)  # noqa: SIM115 - the caller closes it
        return open(self.path, mode)  # noqa: SIM115

    def _transfer_up(self, store: BlobStore, local: str, uri: str) -> None:
        store.put_file(local, uri)

    def _transfer_down(self, store: BlobStore, uri: str, local: str) -> None:
        store.get_file(uri, local)

    def _exists_locally(self, local: str) -> bool:
        return os.path.isfile(local)

    def _digest(self) -> str:
        digest = hashlib.sha256()
        update_with_file(digest, self.download())
        return digest.hexdigest()[:32]
