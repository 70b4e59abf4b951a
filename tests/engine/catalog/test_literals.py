"""Contract suite of stored values (``store_value`` / ``load_value``), run over every blob
store: a local directory (file://) and S3 (moto's server on localhost, through s3fs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.literals import load_value, store_value
from engine.errors import StorageError
from engine.types import FlyteDirectory, FlyteFile, StructuredDataset
from engine.types.type_engine import TypeEngine

BIG = 1 << 20  # a threshold no value here reaches: everything stays inline


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    fixture = {"file": "local_store_config", "s3": "s3_bucket"}[request.param]
    config: StorageConfig = request.getfixturevalue(fixture)
    return BlobStore(config)


@pytest.fixture
def prefix(store: BlobStore) -> str:
    return store.uri("values", "exec-1", "n0")


@dataclass
class Point:
    x: int
    label: str
    weights: list[float]


@dataclass
class Report:
    title: str
    frame: pd.DataFrame


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "i": np.arange(4, dtype="int64"),
        "f": np.array([0.5, 1.5, -2.0, 3.25], dtype="float32"),
        "s": ["a", "bb", None, "dddd"],
        "b": [True, False, True, False],
        "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-29", "2025-12-31"]),
        "n": pd.array([1, None, 3, 4], dtype="Int64"),
        "c": pd.Categorical(["x", "y", "x", "z"]),
    })


def referenced_uris(data: Any) -> list[str]:
    """Every string in a JSON form that looks like a URI."""
    if isinstance(data, str):
        return [data] if "://" in data else []
    if isinstance(data, dict):
        return [u for v in data.values() for u in referenced_uris(v)]
    if isinstance(data, list):
        return [u for v in data for u in referenced_uris(v)]
    return []


def read_parquet_directly(store: BlobStore, uri: str) -> pa.Table:
    """Read a stored parquet blob with pyarrow itself, not through the engine's reader."""
    with store.open(uri) as f:
        return pq.read_table(f)


# --- plain values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "python_type"),
    [
        (42, int),
        (-7, int),
        ("héllo, wörld \u2603", str),
        ("", str),
        ([3, 1, 2], list[int]),
        ([], list[int]),
        ({"a": 1, "z": 26, "m": 13}, dict[str, int]),
        ({"nested": [1.5, 2.5]}, dict[str, list[float]]),
        (Point(3, "p", [0.25, 0.5]), Point),
    ],
    ids=["int", "negative-int", "unicode-str", "empty-str", "list", "empty-list", "dict",
         "dict-of-lists", "dataclass"],
)
def test_plain_values_round_trip_inline(
    store: BlobStore, prefix: str, value: Any, python_type: Any
) -> None:
    stored = store_value(value, python_type, store, prefix, BIG)
    assert set(stored) == {"inline"}
    assert stored["inline"] == TypeEngine.to_json(value, python_type)
    # The stored form is fit for a database record: plain JSON.
    assert json.loads(json.dumps(stored)) == stored
    back = load_value(stored, python_type, store)
    assert back == value
    assert type(back) is type(value)
    # Nothing was written for an inline value.
    assert store.find(prefix) == []


def test_dict_keeps_key_order(store: BlobStore, prefix: str) -> None:
    value = {"zz": 1, "aa": 2, "mm": 3}
    back = load_value(store_value(value, dict[str, int], store, prefix, BIG), dict[str, int],
                      store)
    assert list(back) == ["zz", "aa", "mm"]


# --- inline or offloaded -----------------------------------------------------------------


def test_value_up_to_the_threshold_is_inline_and_one_byte_more_is_offloaded(
    store: BlobStore, prefix: str
) -> None:
    value = list(range(50))
    size = len(json.dumps(TypeEngine.to_json(value, list[int])).encode())

    at_threshold = store_value(value, list[int], store, prefix, size)
    assert at_threshold == {"inline": value}

    below = store_value(value, list[int], store, prefix, size - 1)
    assert set(below) == {"uri", "format"}
    assert below["format"] == "json"
    assert load_value(below, list[int], store) == value


def test_large_value_is_offloaded_to_a_json_blob_under_the_prefix(
    store: BlobStore, prefix: str
) -> None:
    value = {f"key-{i}": list(range(i, i + 20)) for i in range(200)}
    stored = store_value(value, dict[str, list[int]], store, prefix, 1024)

    assert set(stored) == {"uri", "format"}
    assert stored["format"] == "json"
    uri = stored["uri"]
    assert uri.startswith(prefix + "/")
    assert store.exists(uri)
    assert store.find(prefix) == [uri]
    # The blob is the value's JSON form, readable without Flyray.
    assert json.loads(store.read_bytes(uri)) == value
    # The record itself stays small whatever the value's size.
    assert len(json.dumps(stored)) < 300
    assert load_value(stored, dict[str, list[int]], store) == value


def test_two_offloaded_values_get_distinct_blobs(store: BlobStore, prefix: str) -> None:
    first = store_value(list(range(300)), list[int], store, prefix, 100)
    second = store_value(list(range(300, 600)), list[int], store, prefix, 100)
    assert first["uri"] != second["uri"]
    assert load_value(first, list[int], store) == list(range(300))
    assert load_value(second, list[int], store) == list(range(300, 600))


def test_offloaded_dataclass_round_trips(store: BlobStore, prefix: str) -> None:
    value = Point(1, "x" * 500, [float(i) for i in range(100)])
    stored = store_value(value, Point, store, prefix, 200)
    assert "uri" in stored
    assert load_value(stored, Point, store) == value


# --- dataframes --------------------------------------------------------------------------


def test_dataframe_is_stored_as_parquet_by_uri(store: BlobStore, prefix: str) -> None:
    df = sample_frame()
    stored = store_value(df, pd.DataFrame, store, prefix, BIG)

    ref = stored["inline"]
    assert ref["format"] == "parquet"
    assert ref["uri"].startswith(prefix + "/")
    assert ref["uri"].endswith(".parquet")
    assert store.exists(ref["uri"])

    # Read with pyarrow directly: the column types are those pandas' frame had.
    table = read_parquet_directly(store, ref["uri"])
    assert table.column_names == list(df.columns)
    assert table.num_rows == len(df)
    schema = table.schema
    assert schema.field("i").type == pa.int64()
    assert schema.field("f").type == pa.float32()
    assert pa.types.is_string(schema.field("s").type) or pa.types.is_large_string(
        schema.field("s").type)
    assert schema.field("b").type == pa.bool_()
    assert pa.types.is_timestamp(schema.field("t").type)
    assert schema.field("n").type == pa.int64()
    assert pa.types.is_dictionary(schema.field("c").type)
    assert table.column("s").null_count == 1
    assert table.column("n").null_count == 1


def test_dataframe_loads_back_with_its_dtypes(store: BlobStore, prefix: str) -> None:
    df = sample_frame()
    back = load_value(store_value(df, pd.DataFrame, store, prefix, BIG), pd.DataFrame, store)
    assert isinstance(back, pd.DataFrame)
    assert dict(back.dtypes) == dict(df.dtypes)
    pd.testing.assert_frame_equal(back, df)


def test_dataframe_is_referenced_even_below_a_tiny_threshold(
    store: BlobStore, prefix: str
) -> None:
    # The reference to the parquet is itself offloaded; both blobs exist and load.
    df = sample_frame()
    stored = store_value(df, pd.DataFrame, store, prefix, 10)
    assert set(stored) == {"uri", "format"}
    ref = json.loads(store.read_bytes(stored["uri"]))
    assert ref["format"] == "parquet"
    assert store.exists(ref["uri"])
    pd.testing.assert_frame_equal(load_value(stored, pd.DataFrame, store), df)


def test_dataframe_index_survives_storage(store: BlobStore, prefix: str) -> None:
    # A groupby result keeps its keys in the index: dropping the index loses the keys.
    # flytekit writes pandas' own parquet (index kept); and a cached task must return on a
    # hit what it returned on the miss, where the frame passed through Ray whole.
    totals = pd.DataFrame({"key": ["a", "b", "a"], "v": [1, 2, 3]}).groupby("key").sum()
    back = load_value(store_value(totals, pd.DataFrame, store, prefix, BIG), pd.DataFrame,
                      store)
    assert list(back.index) == ["a", "b"]
    pd.testing.assert_frame_equal(back, totals)


def test_structured_dataset_is_stored_as_parquet_and_read_lazily(
    store: BlobStore, prefix: str
) -> None:
    df = sample_frame()
    stored = store_value(StructuredDataset(df), StructuredDataset, store, prefix, BIG)
    uri = stored["inline"]["uri"]
    assert stored["inline"]["format"] == "parquet"
    assert store.exists(uri)

    back = load_value(stored, StructuredDataset, store)
    assert isinstance(back, StructuredDataset)
    assert back.uri == uri
    assert back.dataframe is None  # nothing read yet
    pd.testing.assert_frame_equal(back.open(pd.DataFrame).all(), df)
    assert back.open(pa.Table).all().column_names == list(df.columns)


def test_structured_dataset_already_in_the_store_is_not_copied(
    store: BlobStore, prefix: str
) -> None:
    uri = store.uri("elsewhere", "t.parquet")
    store.write_parquet(pa.table({"a": [1, 2]}), uri)
    stored = store_value(StructuredDataset(uri=uri), StructuredDataset, store, prefix, BIG)
    assert stored == {"inline": {"uri": uri, "format": "parquet"}}
    assert store.find(prefix) == []
    assert load_value(stored, pa.Table, store).equals(pa.table({"a": [1, 2]}))


def test_arrow_table_round_trips_with_its_schema(store: BlobStore, prefix: str) -> None:
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int32()),
        "name": pa.array(["a", None, "c"], pa.string()),
        "score": pa.array([0.5, None, 2.5], pa.float64()),
        "tags": pa.array([["x"], [], ["y", "z"]], pa.list_(pa.string())),
    })
    stored = store_value(table, pa.Table, store, prefix, BIG)
    uri = stored["inline"]["uri"]
    assert stored["inline"]["format"] == "parquet"
    assert read_parquet_directly(store, uri).schema.equals(table.schema)

    back = load_value(stored, pa.Table, store)
    assert isinstance(back, pa.Table)
    assert back.schema.equals(table.schema)
    assert back.equals(table)


def test_dataclass_holding_a_dataframe_round_trips(store: BlobStore, prefix: str) -> None:
    report = Report("quarterly", sample_frame())
    stored = store_value(report, Report, store, prefix, BIG)

    data = stored["inline"]
    assert data["title"] == "quarterly"
    assert data["frame"]["format"] == "parquet"
    assert store.exists(data["frame"]["uri"])

    back = load_value(stored, Report, store)
    assert isinstance(back, Report)
    assert back.title == "quarterly"
    pd.testing.assert_frame_equal(back.frame, report.frame)


# --- files and directories ---------------------------------------------------------------


def test_local_file_is_uploaded_and_loads_back_as_a_flyte_file(
    store: BlobStore, prefix: str, tmp_path: Path
) -> None:
    local = tmp_path / "in" / "notes.txt"
    local.parent.mkdir()
    local.write_text("line 1\nline 2\n")

    stored = store_value(FlyteFile(str(local)), FlyteFile, store, prefix, BIG)
    uri = stored["inline"]
    assert isinstance(uri, str)
    assert uri.startswith(prefix + "/")
    assert uri.endswith("/notes.txt")
    assert store.read_bytes(uri) == b"line 1\nline 2\n"

    local.unlink()  # what was stored no longer depends on the local file
    back = load_value(stored, FlyteFile, store)
    assert isinstance(back, FlyteFile)
    assert back.remote_source == uri
    assert not back.downloaded
    path = back.download()
    assert Path(path).read_text() == "line 1\nline 2\n"
    assert path != str(local)


def test_local_directory_is_uploaded_and_loads_back_whole(
    store: BlobStore, prefix: str, tmp_path: Path
) -> None:
    base = tmp_path / "tree"
    (base / "sub").mkdir(parents=True)
    (base / "a.txt").write_text("A")
    (base / "sub" / "b.txt").write_text("B")

    stored = store_value(FlyteDirectory(str(base)), FlyteDirectory, store, prefix, BIG)
    uri = stored["inline"]
    assert sorted(store.find(uri)) == [f"{uri}/a.txt", f"{uri}/sub/b.txt"]

    back = load_value(stored, FlyteDirectory, store)
    assert isinstance(back, FlyteDirectory)
    assert sorted(rel for _, rel in back.crawl()) == ["a.txt", "sub/b.txt"]
    assert Path(back.download(), "sub", "b.txt").read_text() == "B"


def test_file_already_in_the_store_is_not_copied(store: BlobStore, prefix: str) -> None:
    uri = store.uri("elsewhere", "data.bin")
    store.write_bytes(uri, b"\x00\x01")
    stored = store_value(FlyteFile(uri), FlyteFile, store, prefix, BIG)
    assert stored == {"inline": uri}
    assert store.find(prefix) == []
    assert Path(load_value(stored, FlyteFile, store).download()).read_bytes() == b"\x00\x01"


def test_list_of_files_uploads_each(store: BlobStore, prefix: str, tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        p = tmp_path / f"f{i}.txt"
        p.write_text(f"file {i}")
        paths.append(FlyteFile(str(p)))
    stored = store_value(paths, list[FlyteFile], store, prefix, BIG)
    uris = referenced_uris(stored)
    assert len(set(uris)) == 3
    back = load_value(stored, list[FlyteFile], store)
    assert [Path(f.download()).read_text() for f in back] == ["file 0", "file 1", "file 2"]


# --- missing blobs -----------------------------------------------------------------------


def assert_names_uri(error: StorageError, uri: str) -> None:
    message = str(error)
    assert uri in message
    assert "not found" in message
    assert "Traceback" not in message
    assert "botocore" not in message.lower()


def test_loading_an_offloaded_value_whose_blob_vanished_is_a_storage_error(
    store: BlobStore, prefix: str
) -> None:
    stored = store_value(list(range(500)), list[int], store, prefix, 100)
    store.delete(stored["uri"])
    with pytest.raises(StorageError) as info:
        load_value(stored, list[int], store)
    assert_names_uri(info.value, stored["uri"])


def test_loading_a_dataframe_whose_parquet_vanished_is_a_storage_error(
    store: BlobStore, prefix: str
) -> None:
    stored = store_value(sample_frame(), pd.DataFrame, store, prefix, BIG)
    uri = stored["inline"]["uri"]
    store.delete(uri)
    with pytest.raises(StorageError) as info:
        load_value(stored, pd.DataFrame, store)
    assert_names_uri(info.value, uri)


def test_downloading_a_file_whose_blob_vanished_is_a_storage_error(
    store: BlobStore, prefix: str, tmp_path: Path
) -> None:
    local = tmp_path / "gone.txt"
    local.write_text("soon gone")
    stored = store_value(FlyteFile(str(local)), FlyteFile, store, prefix, BIG)
    uri = stored["inline"]
    store.delete(uri)
    back = load_value(stored, FlyteFile, store)  # files are fetched lazily
    with pytest.raises(StorageError) as info:
        back.download()
    assert_names_uri(info.value, uri)
