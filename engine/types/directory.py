"""``FlyteDirectory``, at flytekit's module path: a directory produced or consumed by a task."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from engine.catalog.blob import BlobStore
from engine.types._blob import Blob
from engine.types.hashing import update_with_file


class FlyteDirectory(Blob):
    """A directory, uploaded once when a task returns it, downloaded whole on first use."""

    multipart = True

    def crawl(self) -> Iterator[tuple[str, str]]:
        """(base directory, relative path) of every file, after downloading."""
        base = self.download()
        for root, _, files in os.walk(base):
            for name in sorted(files):
                yield base, os.path.relpath(os.path.join(root, name), base)

    def _transfer_up(self, store: BlobStore, local: str, uri: str) -> None:
        store.put_dir(local, uri)

    def _transfer_down(self, store: BlobStore, uri: str, local: str) -> None:
        store.get_dir(uri, local)

    def _exists_locally(self, local: str) -> bool:
        return os.path.isdir(local)

    def _digest(self) -> str:
        """Every file's path relative to the directory, then its bytes, in crawl order."""
        digest = hashlib.sha256()
        for base, rel in self.crawl():
            digest.update(rel.encode() + b"\0")
            update_with_file(digest, f"{base}/{rel}")
        return digest.hexdigest()[:32]
