"""The blob store: one narrow interface over fsspec for ``file://`` and ``s3://`` URIs.

Data that must outlive an execution (files and directories tasks produce,
offloaded values, cache entries) is written here. Errors are turned into
:class:`StorageError` naming the URI and the cause, never a raw botocore trace.
Whole-object reads and writes to S3 that fail on the connection (endpoint down,
connection reset, timed out) are tried again until ``StorageConfig.retry_s`` has passed: every
operation ends within that deadline (plus one try's own timeouts), never hangs.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.errors import StorageError
from engine.failpoints import hit

if TYPE_CHECKING:
    import fsspec

    from engine.config import Settings


@dataclass(frozen=True)
class StorageConfig:
    """How to reach the blob store; plain data, sent to workers with each node."""

    root: str  # "file:///abs/dir" or "s3://bucket/prefix"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # How long a whole-object S3 read or write is tried again while the connection
    # fails (an endpoint restarting, a reset): past it the failure is the caller's.
    retry_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageConfig:
        return cls(settings.blob_root_uri, settings.s3_endpoint_url, settings.s3_region,
                   settings.s3_access_key_id, settings.s3_secret_access_key)

    def s3_options(self) -> dict[str, Any]:
        """Keyword arguments for s3fs.S3FileSystem."""
        options: dict[str, Any] = {}
        client: dict[str, Any] = {}
        if self.s3_endpoint_url:
            options["endpoint_url"] = self.s3_endpoint_url
        if self.s3_region:
            client["region_name"] = self.s3_region
        if self.s3_access_key_id:
            options["key"] = self.s3_access_key_id
        if self.s3_secret_access_key:
            options["secret"] = self.s3_secret_access_key
        if client:
            options["client_kwargs"] = client
        # Fail fast on an unreachable endpoint instead of retrying for minutes (the
        # BlobStore retries whole operations within retry_s); a stalled read ends too.
        options["config_kwargs"] = {"connect_timeout": 5, "read_timeout": 30,
                                    "retries": {"max_attempts": 2}}
        return options


_CONNECTION_FAILURES = ("Could not connect", "Connect timeout", "Read timeout",
                        "Connection reset", "Connection aborted", "Server disconnected",
                        "Connection was closed", "Connection refused")


# Written by put_dir at the top of every uploaded directory, skipped by get_dir: object
# stores have no directories, so an empty one would otherwise not exist at all.
DIRECTORY_MARKER = ".flyray-directory"


def protocol_of(uri: str) -> str:
    return uri.split("://", 1)[0] if "://" in uri else "file"


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    if isinstance(error, FileNotFoundError):
        return f"not found{': ' + text if text else ''}"
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"the disk is full (ENOSPC){': ' + text if text else ''}; free space there"
    if isinstance(error, PermissionError):
        return f"access denied{': ' + text if text else ''}; check the S3 credentials"
    if "Could not connect" in text or "Connect timeout" in text or "EndpointConnection" in name:
        return f"endpoint unreachable ({text}); check s3_endpoint_url / AWS_ENDPOINT_URL"
    return f"{name}: {text}" if text else name


def _replacing(path: str, write: Callable[[str], Any]) -> None:
    """``write`` a local file under a temporary name, then rename it to ``path``: a
    reader never sees it half written, and a failed write (a full disk) leaves nothing."""
    temp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def transient(error: BaseException) -> bool:
    """Whether ``error`` (or an error it came from) is a connection failing: worth
    trying the operation again, unlike a missing object, denied access or a full disk."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)) \
                or any(text in str(seen) for text in _CONNECTION_FAILURES) \
                or "EndpointConnection" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class BlobStore:
    """Reads and writes blobs by URI; relative names resolve under the configured root."""

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        self._filesystems: dict[str, fsspec.AbstractFileSystem] = {}

    @property
    def root(self) -> str:
        return self.config.root.rstrip("/")

    def uri(self, *parts: str) -> str:
        """A URI under the root, ``parts`` joined with '/'."""
        return "/".join([self.root, *(p.strip("/") for p in parts if p)])

    def new_uri(self, prefix: str, name: str) -> str:
        """A fresh, unique URI under ``prefix`` ending in ``name``."""
        return f"{prefix.rstrip('/')}/{uuid.uuid4().hex[:12]}/{name.strip('/') or 'data'}"

    def _fs(self, uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
        protocol = protocol_of(uri)
        fs = self._filesystems.get(protocol)
        if fs is None:
            options = self.config.s3_options() if protocol == "s3" else {}
            if protocol == "file":
                options["auto_mkdir"] = True
            # fsspec (and s3fs with it) is imported when a blob is first touched, not
            # when tasks are defined or the CLI builds its options.
            import fsspec

            try:
                fs = fsspec.filesystem(protocol, **options)
            except (ImportError, ValueError) as e:
                raise StorageError(f"cannot use {uri}: {e}") from e
            self._filesystems[protocol] = fs
        path = uri.split("://", 1)[1] if "://" in uri else str(Path(uri).resolve())
        return fs, path

    @contextlib.contextmanager
    def _errors(self, action: str, uri: str) -> Iterator[None]:
        try:
            yield
        except StorageError:
            raise
        except (OSError, ValueError) as e:
            raise StorageError(f"cannot {action} {uri}: {_describe(e)}") from e
        except Exception as e:  # botocore/aiobotocore errors have no common base here
            raise StorageError(f"cannot {action} {uri}: {_describe(e)}") from e

    def check(self) -> None:
        """Raise StorageError unless the root can be listed (bucket exists, access works)."""
        fs, path = self._fs(self.root)
        with self._errors("reach the blob store at", self.root):
            if protocol_of(self.root) == "file":
                os.makedirs(path, exist_ok=True)
                return
            bucket = path.split("/", 1)[0]
            # ls, not exists: exists() answers False when the endpoint is unreachable.
            try:
                fs.ls(bucket, refresh=True)
            except FileNotFoundError:
                raise FileNotFoundError(f"bucket '{bucket}' does not exist") from None

    def exists(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        with self._errors("check", uri):
            return bool(fs.exists(path))

    def is_dir(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        with self._errors("check", uri):
            return bool(fs.isdir(path))

    def _retrying(self, action: str, uri: str, call: Callable[[], Any]) -> Any:
        """``call()`` under :meth:`_errors`, tried again on S3 connection failures with
        backoff until the config's ``retry_s`` has passed (an S3 PUT of a whole object is atomic:
        a failed try leaves nothing behind, so a retry is safe)."""
        deadline = time.monotonic() + self.config.retry_s
        delay = 0.2
        while True:
            try:
                with self._errors(action, uri):
                    return call()
            except StorageError as e:
                if protocol_of(uri) != "s3" or not transient(e) \
                        or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _writing(self, action: str, uri: str, write: Callable[[Any, str], Any]) -> None:
        """``write(fs, path)`` the object at ``uri``: retried like every whole-object
        operation, and on a local disk under a temporary name renamed into place."""
        fs, path = self._fs(uri)

        def attempt() -> None:
            hit("blob.write")
            if protocol_of(uri) == "file":
                _replacing(path, lambda temp: write(fs, temp))
            else:
                write(fs, path)

        self._retrying(action, uri, attempt)

    def write_bytes(self, uri: str, data: bytes) -> None:
        self._writing("write", uri, lambda fs, path: fs.pipe_file(path, data))

    def read_bytes(self, uri: str) -> bytes:
        fs, path = self._fs(uri)
        return bytes(self._retrying("read", uri, lambda: fs.cat_file(path)))

    def open(self, uri: str, mode: str = "rb") -> IO[Any]:
        fs, path = self._fs(uri)
        with self._errors("open", uri):
            return fs.open(path, mode)  # type: ignore[no-any-return]

    def put_file(self, local: str, uri: str) -> None:
        self._writing("upload to", uri, lambda fs, path: fs.put_file(local, path))

    def get_file(self, uri: str, local: str) -> None:
        fs, path = self._fs(uri)
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        self._retrying("download", uri, lambda: fs.get_file(path, local))

    def put_dir(self, local: str, uri: str) -> None:
        """Upload a directory tree; a marker object makes even an empty one exist."""
        fs, path = self._fs(uri)
        with self._errors("upload to", uri):
            fs.pipe_file(f"{path.rstrip('/')}/{DIRECTORY_MARKER}", b"")
            for file in sorted(Path(local).rglob("*")):
                if file.is_file():
                    rel = file.relative_to(local).as_posix()
                    fs.put_file(str(file), f"{path.rstrip('/')}/{rel}")

    def get_dir(self, uri: str, local: str) -> None:
        fs, path = self._fs(uri)
        Path(local).mkdir(parents=True, exist_ok=True)
        with self._errors("download", uri):
            if not fs.isdir(path):
                raise FileNotFoundError(f"no directory at {uri}")
            for remote in fs.find(path):
                rel = remote[len(path.rstrip("/")) + 1:]
                if rel == DIRECTORY_MARKER:
                    continue
                target = Path(local) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(target))

    def find(self, uri: str) -> list[str]:
        """URIs of every file under ``uri``."""
        fs, path = self._fs(uri)
        protocol = protocol_of(uri)
        with self._errors("list", uri):
            return [f"{protocol}://{p}" for p in fs.find(path)
                    if not p.endswith("/" + DIRECTORY_MARKER)]

    def delete(self, uri: str) -> None:
        fs, path = self._fs(uri)
        with self._errors("delete", uri):
            if fs.exists(path):
                fs.rm(path, recursive=True)

    def write_parquet(self, table: Any, uri: str) -> None:
        """Write a pyarrow Table as parquet, keeping its schema."""
        buffer = io.BytesIO()
        import pyarrow.parquet as pq  # heavy: only where dataframes are stored

        pq.write_table(table, buffer)
        self.write_bytes(uri, buffer.getvalue())

    def read_parquet(self, uri: str, columns: list[str] | None = None) -> Any:
        """Read parquet written by :meth:`write_parquet` as a pyarrow Table."""
        fs, path = self._fs(uri)
        with self._errors("read", uri):
            import pyarrow.parquet as pq

            return pq.read_table(path, filesystem=fs, columns=columns)

    def size(self, uri: str) -> int:
        """Bytes under ``uri`` (a file, or every file of a directory)."""
        fs, path = self._fs(uri)
        with self._errors("measure", uri):
            return int(fs.du(path, total=True)) if fs.isdir(path) else int(fs.size(path))
