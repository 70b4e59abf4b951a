"""``FileAccessProvider``, flytekit's ``ctx.file_access``: what a type transformer written the
flytekit way uses to move its data between local disk and the blob store.

One provider is bound to one :class:`~engine.types.type_engine.DataContext`: "remote" paths
are fresh URIs under the context's prefix (the node attempt's raw outputs), local ones fresh
paths under its work directory (the attempt's scratch, removed when the attempt ends).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import IO, Any

from engine.catalog.blob import BlobStore
from engine.types.type_engine import DataContext


class FileAccessProvider:
    """Reads and writes data for type transformers, as flytekit's ``FileAccessProvider``."""

    def __init__(self, ctx: DataContext) -> None:
        self._store: BlobStore = ctx.store
        self._prefix = ctx.prefix.rstrip("/")
        self._local = Path(ctx.workdir)

    @property
    def raw_output_prefix(self) -> str:
        """The URI under which new remote paths are made."""
        return self._prefix

    @property
    def local_sandbox_dir(self) -> str:
        """The directory under which new local paths are made."""
        return str(self._local)

    @staticmethod
    def get_random_string() -> str:
        return uuid.uuid4().hex[:16]

    def get_random_local_path(self, file_path_or_file_name: str | None = None) -> str:
        """A fresh local path (its parent exists), ending in the given name if any."""
        name = Path(file_path_or_file_name).name if file_path_or_file_name else \
            self.get_random_string()
        parent = self._local / self.get_random_string()
        parent.mkdir(parents=True, exist_ok=True)
        return str(parent / name)

    def get_random_local_directory(self) -> str:
        """A fresh, existing, empty local directory."""
        path = self._local / self.get_random_string()
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def get_random_remote_path(self, file_path_or_file_name: str | None = None) -> str:
        """A fresh URI under the raw output prefix, ending in the given name if any."""
        name = Path(file_path_or_file_name).name if file_path_or_file_name else ""
        return self._store.new_uri(self._prefix, name or self.get_random_string())

    def get_random_remote_directory(self) -> str:
        """A fresh URI under the raw output prefix, for a directory."""
        return f"{self._prefix}/{self.get_random_string()}"

    def join(self, *paths: str) -> str:
        return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(paths))

    def exists(self, path: str) -> bool:
        return self._store.exists(path)

    def get_data(self, remote_path: str, local_path: str, is_multipart: bool = False) -> None:
        """Download a file, or with ``is_multipart`` a directory, to ``local_path``."""
        if is_multipart:
            self._store.get_dir(remote_path, local_path)
        else:
            self._store.get_file(remote_path, local_path)

    def put_data(self, local_path: str | os.PathLike[str], remote_path: str,
                 is_multipart: bool = False) -> str:
        """Upload a file, or with ``is_multipart`` a directory, to ``remote_path``; return it."""
        local = os.fspath(local_path)
        if is_multipart:
            self._store.put_dir(local, remote_path)
        else:
            self._store.put_file(local, remote_path)
        return remote_path

    def put_raw_data(self, lpath: str | os.PathLike[str] | bytes | IO[Any],
                     upload_prefix: str | None = None, file_name: str | None = None,
                     **_: Any) -> str:
        """Upload a local file or directory, bytes, or a readable stream, under the raw output
        prefix (or ``upload_prefix``); return the URI it got."""
        prefix = (upload_prefix or self._prefix).rstrip("/")
        if isinstance(lpath, (str, os.PathLike)):
            local = os.fspath(lpath)
            uri = f"{prefix}/{self.get_random_string()}/{file_name or Path(local).name}"
            return self.put_data(local, uri, is_multipart=os.path.isdir(local))
        data = lpath if isinstance(lpath, bytes) else lpath.read()
        if isinstance(data, str):  # a text stream
            data = data.encode()
        uri = f"{prefix}/{self.get_random_string()}/{file_name or self.get_random_string()}"
        self._store.write_bytes(uri, data)
        return uri

    def upload(self, file_path: str, to_path: str) -> None:
        self.put_data(file_path, to_path)

    def upload_directory(self, local_path: str, remote_path: str) -> None:
        self.put_data(local_path, remote_path, is_multipart=True)

    def download(self, remote_path: str, local_path: str) -> None:
        self.get_data(remote_path, local_path)

    def download_directory(self, remote_path: str, local_path: str) -> None:
        self.get_data(remote_path, local_path, is_multipart=True)

    def open(self, path: str, mode: str = "rb") -> IO[Any]:
        """A file object on ``path`` in the blob store."""
        return self._store.open(path, mode)


