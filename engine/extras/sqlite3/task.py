"""``SQLite3Task``: a query against an SQLite database file, as flytekit's
``flytekit.extras.sqlite3.task``.

    sql_task = SQLite3Task(
        "tracks",
        query_template="select TrackId, Name from tracks limit {{.inputs.limit}}",
        inputs=kwtypes(limit=int),
        output_schema_type=pandas.DataFrame,
        task_config=SQLite3Config(uri=EXAMPLE_DB, compressed=True),
    )

Each attempt fetches the database (a local path, or a URI the blob store or HTTP can
read) into its scratch directory, unpacks it when ``compressed`` (a zip, tar, tar.gz,
... holding exactly one file), runs the rendered query read-only and returns the result
as a pandas DataFrame, the one output ``results``. Its declared type is
``output_schema_type`` (by default ``StructuredDataset``, which Flyray has in place of
flytekit's FlyteSchema); ``Annotated[..., kwtypes(col=type)]`` declares columns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.base_sql_task import SQLTask
from engine.core.context_manager import FlyteContextManager
from engine.errors import ConfigError, StorageError
from engine.types.interface import kwtypes
from engine.types.structured import StructuredDataset, declared_columns

__all__ = ["SQLite3Config", "SQLite3Task"]


@dataclass
class SQLite3Config:
    """Where the database is.

    Attributes:
        uri: a local path or a URI (``file://``, ``s3://``, ``https://``) of the file.
        compressed: the file is an archive (zip, tar, ...) holding the database file.
    """

    uri: str
    compressed: bool = False


class SQLite3Task(SQLTask[SQLite3Config]):
    """Runs a templated query on an SQLite database (see the module docstring)."""

    _SQLITE_TASK_TYPE = "sqlite"

    def __init__(self, name: str, query_template: str,
                 inputs: dict[str, Any] | None = None,
                 task_config: SQLite3Config | None = None,
                 output_schema_type: Any = None,
                 container_image: Any = None, **kwargs: Any) -> None:
        if not isinstance(task_config, SQLite3Config) or not task_config.uri:
            raise ConfigError(f"SQLite3Task '{name}': the database is required: give "
                              "task_config=SQLite3Config(uri=...) with its path or URI")
        outputs = kwtypes(results=output_schema_type if output_schema_type is not None
                          else StructuredDataset)
        super().__init__(name=name, query_template=query_template, task_config=task_config,
                         task_type=self._SQLITE_TASK_TYPE, inputs=inputs, outputs=outputs,
                         container_image=container_image, **kwargs)

    @property
    def output_columns(self) -> list[str] | None:
        """The columns ``output_schema_type`` declares, if it declares any."""
        columns = list(declared_columns(self.python_interface.outputs["results"]))
        return columns or None

    def get_custom(self, settings: Any = None) -> dict[str, Any] | None:
        config = self.task_config
        assert config is not None  # checked in __init__
        return {"query_template": self.query_template, "inputs": "", "outputs": "",
                "uri": config.uri, "compressed": config.compressed}

    def execute(self, **kwargs: Any) -> Any:
        """Fetch the database, run the rendered query, return a pandas DataFrame."""
        import pandas  # heavy: loaded when a query runs, not when tasks are declared

        config = self.task_config
        assert config is not None  # checked in __init__
        query = self.get_query(**kwargs)
        ctx = FlyteContextManager.current_context()
        with tempfile.TemporaryDirectory(prefix="flyray-sqlite-") as temp_dir:
            local = os.path.join(temp_dir, os.path.basename(config.uri.rstrip("/")) or "db")
            if config.uri.startswith(("http://", "https://")):
                _fetch_url(config.uri, local)
            else:  # a local path or a blob store URI
                ctx.file_access.get_data(config.uri, local)
            if config.compressed:
                local = unarchive_file(local, temp_dir)
            # Read-only: a query must not change the (shared, possibly cached) file.
            uri = Path(local).resolve().as_uri() + "?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
                return pandas.read_sql_query(query, connection)


def _fetch_url(url: str, local_path: str) -> None:
    """Download ``url`` to ``local_path``; StorageError names the URL and the cause."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, \
                open(local_path, "wb") as out:
            shutil.copyfileobj(response, out)
    except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
        raise StorageError(f"SQLite3Task: cannot download the database {url}: {e}") from e


def unarchive_file(local_path: str, to_dir: str) -> str:
    """Unpack the archive ``local_path`` into ``to_dir``; the path of the one file it
    holds (ConfigError when it holds none or several, or is no archive)."""
    target = os.path.join(to_dir, "_arch")
    # By content, not by name: a URL need not end in .zip.
    kind = "zip" if zipfile.is_zipfile(local_path) else \
        "tar" if tarfile.is_tarfile(local_path) else None
    try:
        if kind is None:
            raise shutil.ReadError("neither a zip file nor a tar archive")
        shutil.unpack_archive(local_path, target, format=kind)
    except (shutil.ReadError, ValueError, OSError) as e:
        raise ConfigError(f"SQLite3Config(compressed=True): {os.path.basename(local_path)} is "
                          f"not an archive Python can unpack (zip, tar, tar.gz, ...): {e}; "
                          "give compressed=False for a plain database file") from e
    files = [os.path.join(root, f) for root, _, names in os.walk(target) for f in names]
    if len(files) != 1:
        raise ConfigError(f"SQLite3Config(compressed=True): the archive "
                          f"{os.path.basename(local_path)} must hold exactly one file (the "
                          f"database), found {len(files)}")
    return files[0]
