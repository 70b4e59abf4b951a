"""The log store: chunks written by LogWriter read back whole, from an offset, or as a
tail, over both blob stores (a local directory and S3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.logs.store import LogSlice, LogStore, attempt_log_uri, chunk_name
from engine.logs.writer import CHUNK_BYTES, LogWriter


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest) -> BlobStore:
    fixture = "local_store_config" if request.param == "local" else "s3_bucket"
    config: StorageConfig = request.getfixturevalue(fixture)
    return BlobStore(config)


class _CountingStore(BlobStore):
    """A blob store that counts the objects read (to see that a tail reads few)."""

    reads = 0

    def read_bytes(self, uri: str) -> bytes:
        self.reads += 1
        return super().read_bytes(uri)


def _lines(first: int, count: int) -> bytes:
    return b"".join(f"line {i}\n".encode() for i in range(first, first + count))


def test_the_uri_names_execution_node_and_attempt(blobs: BlobStore) -> None:
    uri = attempt_log_uri(blobs, "f123", "n4", 2)
    assert uri == blobs.uri("logs", "f123", "n4", "2")
    assert attempt_log_uri(blobs, "f1", "", 1).endswith("/logs/f1/task/1")
    assert chunk_name(300, False) == "0000000000000300.log"
    assert chunk_name(300, True) == "0000000000000300.end.log"


def test_chunks_read_back_in_order_and_complete_once_ended(blobs: BlobStore) -> None:
    store, uri = LogStore(blobs), attempt_log_uri(blobs, "f1", "n0", 1)
    assert not store.exists(uri)
    assert store.read(uri) == store.tail(uri)
    assert (store.read(uri).text, store.read(uri).complete) == ("", False)
    writer = LogWriter(blobs, uri)
    writer.append(_lines(0, 3))
    writer.flush()
    running = store.read(uri)
    assert (running.text, running.start, running.next, running.complete) == \
        ("line 0\nline 1\nline 2\n", 0, 21, False)
    writer.append(_lines(3, 2))
    writer.flush()
    writer.append(_lines(5, 1))
    writer.close()
    assert sorted(p.rsplit("/", 1)[1] for p in blobs.find(uri)) == \
        [chunk_name(0, False), chunk_name(21, False), chunk_name(35, True)]
    whole = store.read(uri)
    assert whole.text == _lines(0, 6).decode() and whole.complete and whole.next == 42
    after = store.read(uri, since=running.next)
    assert (after.text, after.start, after.complete) == ("line 3\nline 4\nline 5\n", 21, True)
    assert store.read(uri, since=whole.next) == LogSlice("", 42, 42, True)


def test_a_read_stops_at_a_line_within_max_bytes(blobs: BlobStore) -> None:
    store, uri = LogStore(blobs), attempt_log_uri(blobs, "f2", "n0", 1)
    writer = LogWriter(blobs, uri)
    writer.append(_lines(0, 10))
    writer.append(b"x" * 50 + b"\n")
    writer.close()
    first = store.read(uri, max_bytes=16)
    assert (first.text, first.complete) == ("line 0\nline 1\n", False)
    seen, since = "", 0
    while True:  # reading on from each slice's next yields the whole log once
        piece = store.read(uri, since=since, max_bytes=20)
        seen, since = seen + piece.text, piece.next
        if piece.complete:
            break
    assert seen == _lines(0, 10).decode() + "x" * 50 + "\n"


def test_big_buffers_are_cut_into_chunks_at_line_breaks(blobs: BlobStore) -> None:
    store, uri = LogStore(blobs), attempt_log_uri(blobs, "f3", "n0", 1)
    writer = LogWriter(blobs, uri)
    data = _lines(0, 60_000)  # about 640 KiB: three chunks
    writer.append(data)
    writer.close()
    names = sorted(p.rsplit("/", 1)[1] for p in blobs.find(uri))
    assert len(names) == 3 and names[-1].endswith(".end.log")
    for name in names:
        chunk = blobs.read_bytes(f"{uri}/{name}")
        assert chunk.endswith(b"\n") and len(chunk) <= CHUNK_BYTES
    assert store.read(uri, max_bytes=len(data)).text.encode() == data


def test_a_tail_reads_only_the_last_chunks(local_store_config: StorageConfig) -> None:
    blobs = _CountingStore(local_store_config)
    store, uri = LogStore(blobs), attempt_log_uri(blobs, "f4", "n0", 1)
    writer = LogWriter(blobs, uri)
    for start in range(0, 400_000, 20_000):  # about 4.5 MB in 20 chunks
        writer.append(_lines(start, 20_000))
        writer.flush()
    writer.append(b"the end\n")
    writer.close()  # the final chunk holds one line: the tail reads the one before too
    blobs.reads = 0
    tail = store.tail(uri, 200)
    assert blobs.reads == 2
    assert tail.text == _lines(399_801, 199).decode() + "the end\n"
    assert tail.complete and tail.next == tail.start + len(tail.text)
    assert store.read(uri, since=tail.start).text == tail.text
    blobs.reads = 0
    assert store.tail(uri, 30_000).text == _lines(370_001, 29_999).decode() + "the end\n"
    assert blobs.reads == 3


def test_a_short_log_tails_whole(blobs: BlobStore) -> None:
    store, uri = LogStore(blobs), attempt_log_uri(blobs, "f5", "n0", 1)
    writer = LogWriter(blobs, uri)
    writer.append(_lines(0, 3))
    writer.flush()
    tail = store.tail(uri, 200)
    assert (tail.text, tail.start, tail.complete) == (_lines(0, 3).decode(), 0, False)
    assert store.tail(uri, 1).text == "line 2\n"
    with pytest.raises(ValueError, match="lines must be at least 1"):
        store.tail(uri, 0)


def test_a_failing_blob_store_stops_the_log_without_raising(tmp_path: Path) -> None:
    blocked = BlobStore(StorageConfig(f"file://{tmp_path}/file"))
    (tmp_path / "file").write_text("a file where the log's folder would go")
    writer = LogWriter(blocked, attempt_log_uri(blocked, "f6", "n0", 1))
    writer.append(b"lost\n")
    writer.close()  # no exception: the task's attempt goes on
    writer.append(b"also lost\n")
    writer.close()
