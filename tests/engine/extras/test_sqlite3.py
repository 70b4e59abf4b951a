"""SQLite3Task: queries against an SQLite file (local, or fetched and unzipped), as
flytekit's docs run them."""

from __future__ import annotations

import functools
import http.server
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest

from engine import task, workflow
from engine.errors import ConfigError, NodeFailedError
from engine.extras.sqlite3.task import SQLite3Config, SQLite3Task
from engine.testing import task_mock
from engine.types.interface import kwtypes
from engine.types.structured import StructuredDataset


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "chinook.db"
    with sqlite3.connect(path) as con:
        con.execute("create table tracks (TrackId integer, Name text, AlbumId integer)")
        con.executemany("insert into tracks values (?, ?, ?)",
                        [(i, f"track {i}", i % 3) for i in range(1, 11)])
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, db: Path) -> Iterator[str]:
    """The database zipped, served over HTTP on localhost; its URL."""
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "chinook.zip", "w") as archive:
        archive.write(db, "chinook.db")
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/chinook.zip"
    finally:
        server.shutdown()
        server.server_close()


def tracks_task(uri: str, compressed: bool = False) -> SQLite3Task:
    return SQLite3Task(
        "tracks",
        query_template="select * from tracks where AlbumId = {{ .inputs.album }} "
                       "limit {{.inputs.limit}}",
        inputs=kwtypes(album=int, limit=int),
        output_schema_type=pd.DataFrame,
        task_config=SQLite3Config(uri=uri, compressed=compressed),
    )


def test_a_direct_call_returns_the_rows_as_a_dataframe(db: Path) -> None:
    df = tracks_task(str(db))(album=1, limit=2)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["TrackId", "Name", "AlbumId"]
    assert df["TrackId"].tolist() == [1, 4]


@pytest.mark.usefixtures("ray_cluster")
def test_a_zipped_database_fetched_over_http_feeds_a_downstream_task(served: str) -> None:
    sql = tracks_task(served, compressed=True)

    @task
    def names(df: pd.DataFrame) -> list[str]:
        return df["Name"].tolist()

    @workflow
    def wf(album: int) -> list[str]:
        return names(df=sql(album=album, limit=10))

    assert wf(album=2) == ["track 2", "track 5", "track 8"]


@pytest.mark.usefixtures("ray_cluster")
def test_declared_columns_and_the_default_output_type(db: Path) -> None:
    typed = SQLite3Task(
        "names", query_template="select TrackId, Name from tracks",
        output_schema_type=Annotated[StructuredDataset, kwtypes(Name=str)],
        task_config=SQLite3Config(uri=db.as_uri()),
    )
    assert typed.output_columns == ["Name"]
    plain = SQLite3Task("all", query_template="select * from tracks",
                        task_config=SQLite3Config(uri=str(db)))
    assert plain.python_interface.outputs == {"results": StructuredDataset}

    @task
    def count(sd: StructuredDataset) -> int:
        return len(sd.open(pd.DataFrame).all())

    @workflow
    def wf() -> int:
        return count(sd=plain())

    assert wf() == 10


@pytest.mark.usefixtures("ray_cluster")
def test_task_mock_replaces_the_query(db: Path) -> None:
    sql = tracks_task(str(db))

    @workflow
    def wf() -> pd.DataFrame:
        return sql(album=0, limit=1)

    with task_mock(sql) as m:
        m.return_value = pd.DataFrame({"TrackId": [99]})
        assert wf()["TrackId"].tolist() == [99]
    m.assert_called_once_with(album=0, limit=1)


@pytest.mark.usefixtures("ray_cluster")
def test_clear_errors(db: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SQLite3Config"):
        SQLite3Task("x", query_template="select 1")
    with pytest.raises(ConfigError, match="not an archive"):
        tracks_task(str(db), compressed=True)(album=1, limit=1)
    with pytest.raises(Exception, match="no such table"):
        SQLite3Task("y", query_template="select * from nope",
                    task_config=SQLite3Config(uri=str(db)))()
    missing = tracks_task(str(tmp_path / "missing.db"))

    @workflow
    def wf() -> pd.DataFrame:
        return missing(album=1, limit=1)

    with pytest.raises(NodeFailedError, match="missing.db"):
        wf()
