"""What files and directories share: a local path or a URI, uploaded once, read lazily."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from engine.catalog.blob import BlobStore, StorageConfig
from engine.errors import DataError, StorageError
from engine.types.literal import Kind, LiteralType
from engine.types.type_engine import DataContext, TypeTransformer, expect, short_repr

B = TypeVar("B", bound="Blob")


class Blob(os.PathLike[str]):
    """A file or directory: a local path, or a URI in the blob store read on first use."""

    # Format tag, e.g. "csv" for FlyteFile[typing.TypeVar("csv")]; "" for any.
    extension: ClassVar[str] = ""
    multipart: ClassVar[bool] = False

    def __init__(self, path: str | os.PathLike[str], remote_path: str | None = None) -> None:
        text = os.fspath(path)
        self._remote_source: str | None = text if _is_remote(text) else None
        self._local: str | None = None if self._remote_source else text
        # Where to upload a local path; None: a fresh place under the execution's prefix.
        self._remote_path = remote_path
        self._storage: StorageConfig | None = None  # set when handed to a task
        self._download_to: str | None = None

    def __class_getitem__(cls: type[B], fmt: Any) -> type[B]:
        tag = fmt if isinstance(fmt, str) else getattr(fmt, "__name__", str(fmt))
        return type(f"{cls.__name__}[{tag}]", (cls,), {"extension": tag,
                                                        "__module__": cls.__module__})

    @property
    def remote_source(self) -> str | None:
        """The URI this value was read from, if it lives in the blob store."""
        return self._remote_source

    @property
    def path(self) -> str:
        """The local path (where it is, or will be once downloaded), else the URI."""
        return self._local or self._download_to or self._remote_source or ""

    @property
    def downloaded(self) -> bool:
        return self._local is not None

    def download(self) -> str:
        """Fetch the data to local disk (once) and return the local path."""
        if self._local is not None:
            return self._local
        assert self._remote_source is not None
        store = BlobStore(self._storage or StorageConfig(root=self._remote_source))
        target = self._download_to or os.path.join(
            tempfile.gettempdir(), "flyray-downloads", uuid.uuid4().hex[:8],
            _basename(self._remote_source),
        )
        self._transfer_down(store, self._remote_source, target)
        self._local = target
        return target

    def __fspath__(self) -> str:
        return self.download()

    def __repr__(self) -> str:
        where = self._remote_source or self._local
        return f"{type(self).__name__}({where!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Blob) and (self._remote_source or self._local) == (
            other._remote_source or other._local
        )

    def __hash__(self) -> int:
        return hash(self._remote_source or self._local)

    def __getstate__(self) -> dict[str, Any]:
        # A downloaded copy lives on one machine only: receivers fetch it again.
        state = dict(self.__dict__)
        if state["_remote_source"] is not None:
            state["_local"] = None
        return state

    # Subclasses move the data: one file or a whole directory.
    def _transfer_up(self, store: BlobStore, local: str, uri: str) -> None:
        raise NotImplementedError

    def _transfer_down(self, store: BlobStore, uri: str, local: str) -> None:
        raise NotImplementedError

    def _exists_locally(self, local: str) -> bool:
        raise NotImplementedError

    def _digest(self) -> str:
        """A hash of the content (downloaded first), the same wherever it is stored."""
        raise NotImplementedError


def _is_remote(text: str) -> bool:
    return "://" in text


def _basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] or "data"


class BlobTransformer(TypeTransformer[Blob]):
    """Files or directories: uploaded when a task outputs a local one, fetched lazily."""

    def __init__(self, cls: type[Blob]) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.noun = "directory" if cls.multipart else "file"

    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and issubclass(python_type, self.cls)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        return LiteralType(Kind.BLOB, format=python_type.extension, multipart=self.cls.multipart)

    def check(self, value: Any, python_type: Any) -> str | None:
        if isinstance(value, (self.cls, str, os.PathLike)) and not (
            isinstance(value, Blob) and not isinstance(value, self.cls)
        ):
            return None
        return f"expected {self.name} or a path, got {type(value).__name__} {short_repr(value)}"

    def _coerce(self, value: Any, python_type: Any) -> Blob:
        if isinstance(value, Blob):
            return value
        return python_type(os.fspath(value))  # type: ignore[no-any-return]

    def has_boundary(self, python_type: Any) -> bool:
        return True

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        """Upload a local file or directory once, so tasks on any node can read it."""
        blob = self._coerce(value, python_type)
        if blob.remote_source is not None:
            return blob
        local = blob.path
        if not blob._exists_locally(local):
            raise DataError(f"{where}: {self.noun} {local} does not exist; give the path of "
                            f"an existing {self.noun}")
        uri = blob._remote_path or ctx.store.new_uri(ctx.prefix, Path(local).name)
        try:
            blob._transfer_up(ctx.store, local, uri)
        except StorageError as e:
            raise StorageError(f"{where}: {e}") from e
        out = python_type(uri)
        out._storage = ctx.store.config
        return out

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        """A remote value is fetched on first use; a local one must exist."""
        blob = self._coerce(value, python_type)
        if blob.remote_source is None:
            if not blob._exists_locally(blob.path):
                raise DataError(f"{where}: {self.noun} {blob.path} does not exist")
            return blob
        blob._storage = ctx.store.config
        blob._download_to = str(ctx.workdir / uuid.uuid4().hex[:8] / _basename(
            blob.remote_source))
        return blob

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        blob = self._coerce(value, python_type)
        if ctx is not None and blob.remote_source is None:
            blob = self.from_task_output(blob, python_type, ctx, self.name)
        return blob.remote_source or os.path.abspath(blob.path)

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Blob:
        blob: Blob = python_type(expect(data, str, f"a {self.noun} path or URI"))
        if ctx is not None:
            blob._storage = ctx.store.config
        return blob

    def content_hash(self, value: Any, python_type: Any) -> str | None:
        """By content; a plain path, not yet a file or directory object, by its JSON
        form (the absolute path)."""
        return "blob:" + value._digest() if isinstance(value, Blob) else None
