"""Contract suite of the blob store, run over every implementation: a local directory
(file://) and S3 (s3://, moto's server on localhost, reached through s3fs)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.errors import StorageError
from tests.conftest import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, S3Server
from tests.servers import MotoServer


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    fixture = {"file": "local_store_config", "s3": "s3_bucket"}[request.param]
    config: StorageConfig = request.getfixturevalue(fixture)
    return BlobStore(config)


def write_tree(base: Path) -> dict[str, bytes]:
    """A small tree with nested subdirectories; returns {relative path: content}."""
    files = {
        "top.txt": b"top level\n",
        "sub/a.csv": b"x,y\n1,2\n",
        "sub/deeper/b.bin": bytes(range(256)),
        "sub/deeper/deepest/c.json": b'{"k": [1, 2, 3]}',
    }
    for rel, content in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(content)
    return files


def read_tree(base: Path) -> dict[str, bytes]:
    return {p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*")) if p.is_file()}


def assert_clean_message(error: StorageError, uri: str) -> str:
    """The message names the URI and carries no botocore trace; returns it."""
    message = str(error)
    assert uri in message
    assert "botocore" not in message.lower()
    assert "Traceback" not in message
    return message


# --- URIs --------------------------------------------------------------------------------


def test_uri_joins_parts_under_the_root(store: BlobStore) -> None:
    root = store.config.root.rstrip("/")
    assert store.root == root
    assert store.uri("outputs", "/x/", "data.bin") == f"{root}/outputs/x/data.bin"
    assert store.uri() == root


def test_new_uri_is_unique_under_its_prefix(store: BlobStore) -> None:
    prefix = store.uri("offloaded")
    first = store.new_uri(prefix, "value.json")
    second = store.new_uri(prefix + "/", "value.json")
    assert first != second
    for uri in (first, second):
        assert uri.startswith(prefix + "/")
        assert uri.endswith("/value.json")
        assert "//" not in uri.split("://", 1)[1]


def test_check_passes_on_a_good_store(store: BlobStore) -> None:
    store.check()
    # The store is usable right after the check.
    store.write_bytes(store.uri("after-check"), b"ok")
    assert store.read_bytes(store.uri("after-check")) == b"ok"


# --- Bytes and files ---------------------------------------------------------------------


def test_write_then_read_bytes(store: BlobStore) -> None:
    uri = store.uri("bytes", "nested", "blob.bin")
    data = bytes(range(256)) * 40 + b"\x00end"
    store.write_bytes(uri, data)
    assert store.read_bytes(uri) == data


def test_write_bytes_overwrites(store: BlobStore) -> None:
    uri = store.uri("bytes", "over.txt")
    store.write_bytes(uri, b"first, longer content")
    store.write_bytes(uri, b"second")
    assert store.read_bytes(uri) == b"second"


def test_exists_and_is_dir(store: BlobStore) -> None:
    uri = store.uri("ex", "dir", "file.txt")
    assert not store.exists(uri)
    store.write_bytes(uri, b"here")
    assert store.exists(uri)
    assert store.exists(store.uri("ex", "dir"))
    assert store.is_dir(store.uri("ex", "dir"))
    assert not store.is_dir(uri)
    assert not store.exists(store.uri("ex", "dir", "other.txt"))


def test_open_for_reading(store: BlobStore) -> None:
    uri = store.uri("open", "lines.txt")
    store.write_bytes(uri, b"line one\nline two\n")
    with store.open(uri) as f:
        assert f.readline() == b"line one\n"
        assert f.read() == b"line two\n"


def test_put_file_then_get_file(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "src" / "payload.bin"
    source.parent.mkdir()
    source.write_bytes(b"payload " * 1000)
    uri = store.uri("files", "payload.bin")
    store.put_file(str(source), uri)
    assert store.exists(uri)
    target = tmp_path / "dst" / "deep" / "payload.bin"  # parents do not exist yet
    store.get_file(uri, str(target))
    assert target.read_bytes() == source.read_bytes()


def test_put_dir_then_get_dir_keeps_nested_tree(store: BlobStore, tmp_path: Path) -> None:
    # get_dir makes the local subdirectories itself (s3fs's get_file does not).
    files = write_tree(tmp_path / "src")
    uri = store.uri("dirs", "tree")
    store.put_dir(str(tmp_path / "src"), uri)
    assert store.is_dir(uri)
    store.get_dir(uri, str(tmp_path / "dst"))
    assert read_tree(tmp_path / "dst") == files


def test_find_lists_every_file_under_a_uri_and_nothing_else(
    store: BlobStore, tmp_path: Path
) -> None:
    files = write_tree(tmp_path / "src")
    uri = store.uri("listing", "tree")
    store.put_dir(str(tmp_path / "src"), uri)
    # Siblings, one of which shares the name as a prefix, are not listed.
    store.write_bytes(store.uri("listing", "tree-other", "x.txt"), b"x")
    store.write_bytes(store.uri("listing", "treetop.txt"), b"y")
    assert sorted(store.find(uri)) == sorted(f"{uri}/{rel}" for rel in files)
    assert sorted(store.find(uri + "/sub/deeper")) == [
        f"{uri}/sub/deeper/b.bin", f"{uri}/sub/deeper/deepest/c.json"]
    assert store.find(store.uri("listing", "nothing-here")) == []


def test_find_returns_uris_that_can_be_read(store: BlobStore) -> None:
    store.write_bytes(store.uri("roundtrip", "a.txt"), b"A")
    [found] = store.find(store.uri("roundtrip"))
    assert store.read_bytes(found) == b"A"


def test_delete_a_file(store: BlobStore) -> None:
    keep = store.uri("del", "keep.txt")
    gone = store.uri("del", "gone.txt")
    store.write_bytes(keep, b"keep")
    store.write_bytes(gone, b"gone")
    store.delete(gone)
    assert not store.exists(gone)
    assert store.read_bytes(keep) == b"keep"


def test_delete_a_directory(store: BlobStore, tmp_path: Path) -> None:
    write_tree(tmp_path / "src")
    uri = store.uri("deldir", "tree")
    sibling = store.uri("deldir", "tree-sibling.txt")
    store.put_dir(str(tmp_path / "src"), uri)
    store.write_bytes(sibling, b"stays")
    store.delete(uri)
    assert not store.exists(uri)
    assert store.find(uri) == []
    assert store.read_bytes(sibling) == b"stays"


def test_delete_of_a_missing_uri_does_nothing(store: BlobStore) -> None:
    store.write_bytes(store.uri("delmiss", "other.txt"), b"o")
    store.delete(store.uri("delmiss", "never-written"))
    assert store.find(store.uri("delmiss")) == [store.uri("delmiss", "other.txt")]


# --- Parquet -----------------------------------------------------------------------------


@pytest.fixture
def table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": pa.array(["a", None, "ccc"], pa.string()),
        "score": pa.array([0.5, 1.5, None], pa.float32()),
        "at": pa.array([dt.datetime(2024, 1, d) for d in (1, 2, 3)], pa.timestamp("ms")),
        "tags": pa.array([["x"], [], ["y", "z"]], pa.list_(pa.string())),
    })


def test_parquet_round_trip_keeps_schema(store: BlobStore, table: pa.Table) -> None:
    uri = store.uri("tables", "t.parquet")
    store.write_parquet(table, uri)
    read = store.read_parquet(uri)
    assert read.schema.equals(table.schema)
    assert read.equals(table)


def test_parquet_reads_a_column_subset(store: BlobStore, table: pa.Table) -> None:
    uri = store.uri("tables", "subset.parquet")
    store.write_parquet(table, uri)
    read = store.read_parquet(uri, columns=["score", "id"])
    assert read.column_names == ["score", "id"]
    assert read.schema.field("score").type == pa.float32()
    assert read.equals(table.select(["score", "id"]))


# --- Errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["read_bytes", "open", "get_file", "read_parquet"])
def test_reading_a_missing_key_is_a_storage_error(
    store: BlobStore, tmp_path: Path, action: str
) -> None:
    uri = store.uri("missing", "nothing.bin")
    calls = {
        "read_bytes": lambda: store.read_bytes(uri),
        "open": lambda: store.open(uri),
        "get_file": lambda: store.get_file(uri, str(tmp_path / "out.bin")),
        "read_parquet": lambda: store.read_parquet(uri),
    }
    with pytest.raises(StorageError) as info:
        calls[action]()
    assert "not found" in assert_clean_message(info.value, uri)


def test_get_dir_of_a_missing_directory_is_a_storage_error(
    store: BlobStore, tmp_path: Path
) -> None:
    store.write_bytes(store.uri("present", "x.txt"), b"x")
    uri = store.uri("absent-dir")
    with pytest.raises(StorageError) as info:
        store.get_dir(uri, str(tmp_path / "out"))
    assert "not found" in assert_clean_message(info.value, uri)
    assert list((tmp_path / "out").rglob("*")) == []


def test_check_fails_on_a_local_root_that_cannot_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    root = f"file://{tmp_path}/a-file/blobs"
    with pytest.raises(StorageError) as info:
        BlobStore(StorageConfig(root=root)).check()
    assert_clean_message(info.value, root)


def test_check_fails_on_a_bucket_that_does_not_exist(s3_bucket: StorageConfig) -> None:
    bucket = f"flyray-missing-{uuid.uuid4().hex[:12]}"
    config = replace(s3_bucket, root=f"s3://{bucket}/flyray")
    with pytest.raises(StorageError) as info:
        BlobStore(config).check()
    message = assert_clean_message(info.value, config.root)
    assert f"bucket '{bucket}'" in message
    assert "does not exist" in message


@pytest.mark.timeout(30)  # a hang guard well above connect_timeout x attempts, not a measure
def test_reading_from_an_unreachable_endpoint_is_a_storage_error(
    s3_bucket: StorageConfig, closed_endpoint: str
) -> None:
    # Tried again for retry_s, then the caller's.
    store = BlobStore(replace(s3_bucket, s3_endpoint_url=closed_endpoint, retry_s=1.0))
    uri = store.uri("x.bin")
    with pytest.raises(StorageError) as info:
        store.read_bytes(uri)
    assert "unreachable" in assert_clean_message(info.value, uri)


@pytest.mark.timeout(30)  # a hang guard well above connect_timeout x attempts, not a measure
def test_check_fails_on_an_unreachable_endpoint(
    s3_bucket: StorageConfig, closed_endpoint: str
) -> None:
    config = replace(s3_bucket, s3_endpoint_url=closed_endpoint)
    with pytest.raises(StorageError) as info:
        BlobStore(config).check()
    message = assert_clean_message(info.value, config.root)
    assert "unreachable" in message
    assert "does not exist" not in message


@pytest.mark.timeout(60)
def test_an_s3_endpoint_back_within_the_retry_window_loses_no_read_or_write() -> None:
    # An S3 server of the test's own: stopped, then started on the same port with its
    # buckets kept, while a read and a write wait for it.
    server = MotoServer()
    try:
        config = StorageConfig(root="s3://back-again/flyray", s3_endpoint_url=server.endpoint_url,
                               s3_region=S3_REGION, s3_access_key_id=S3_ACCESS_KEY_ID,
                               s3_secret_access_key=S3_SECRET_ACCESS_KEY, retry_s=20.0)
        S3Server(server.endpoint_url).client().create_bucket(Bucket="back-again")
        store = BlobStore(config)
        store.write_bytes(store.uri("before.bin"), b"kept")
        server.stop()
        restart = threading.Timer(1.5, server.start)
        restart.start()
        try:
            store.write_bytes(store.uri("during.bin"), b"written")
            assert store.read_bytes(store.uri("before.bin")) == b"kept"
        finally:
            restart.join()
        assert store.read_bytes(store.uri("during.bin")) == b"written"
    finally:
        server.stop()
