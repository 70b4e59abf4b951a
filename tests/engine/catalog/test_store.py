"""The catalog store's contract, run over every backend: SQLite and a real PostgreSQL server.

Each test gets an empty catalog (``catalog_url``). Concurrency is real: threads and separate
processes writing one key at once; nothing here asserts on elapsed time.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text

from engine.catalog.keys import CacheKey
from engine.catalog.store import CachedArtifact, CatalogStore

ROOT = Path(__file__).resolve().parents[3]
WRITERS = 8
ROUNDS = 10  # races of the reservation tests, each for a key of its own
T = TypeVar("T")


def make_key(tag: str = "flyte_cached-abc", version: str = "1-in-out",
             task: str = "wf.square") -> CacheKey:
    return CacheKey("flytesnacks", "development", f"flyte_task-{task}", version, tag)


def dataset_version(cache_version: str) -> str:
    """A dataset version as engine.catalog.keys builds it: cache_version, then the hashes
    of the input and output interfaces."""
    return f"{cache_version}-{'a' * 16}-{'b' * 16}"


OUTPUTS = {"o0": {"inline": 9}}


@pytest.fixture
def store(catalog_url: str) -> Iterator[CatalogStore]:
    catalog = CatalogStore(catalog_url)
    try:
        yield catalog
    finally:
        catalog.close()


def put(catalog: CatalogStore, key: CacheKey, outputs: dict[str, dict[str, Any]] = OUTPUTS,
        blob_uris: tuple[str, ...] = (), replace: bool = False,
        node_id: str = "n0") -> tuple[str, list[str]]:
    return catalog.put(key, outputs, execution="fexec", node_id=node_id, size_bytes=10,
                       blob_uris=list(blob_uris), replace=replace)


def found(catalog: CatalogStore, key: CacheKey) -> CachedArtifact:
    artifact = catalog.lookup(key)
    assert artifact is not None, f"no artifact for {key}"
    return artifact


def count_rows(url: str, table: str) -> int:
    """Rows of a catalog table, read with a connection of the test's own."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], T], what: str, limit_s: float = 30.0) -> T:
    """Poll until ``condition()`` is truthy (a safety limit only, never a timed assertion)."""
    deadline = time.monotonic() + limit_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def race(url: str, action: Callable[[CatalogStore, int], T]) -> list[T]:
    """Run ``action`` in WRITERS threads at once, each with a store of its own."""
    return race_rounds(url, 1, lambda catalog, i, _: action(catalog, i))[0]


def race_rounds(url: str, rounds: int,
                action: Callable[[CatalogStore, int, int], T]) -> list[list[T]]:
    """``rounds`` races of WRITERS threads, each with a store of its own; every round
    starts when all threads finished the last one. Returns the results by round."""
    stores = [CatalogStore(url) for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    results: list[list[Any]] = [[None] * WRITERS for _ in range(rounds)]
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait(timeout=30)
                results[r][i] = action(stores[i], i, r)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for catalog in stores:
        catalog.close()
    assert not errors, f"writers failed: {[repr(e) for e in errors]}"
    assert not any(t.is_alive() for t in threads), "a writer hangs"
    return results


# --- opening and migrating -------------------------------------------------------------------


def test_first_open_migrates_and_reopening_keeps_data(catalog_url: str) -> None:
    first = CatalogStore(catalog_url)
    try:
        artifact_id, _ = put(first, make_key())
    finally:
        first.close()
    again = CatalogStore(catalog_url)  # migrations already applied: nothing to do, no error
    try:
        assert found(again, make_key()).id == artifact_id
        put(again, make_key(tag="flyte_cached-other"))
    finally:
        again.close()
    assert count_rows(catalog_url, "catalog_schema_version") == 1
    assert count_rows(catalog_url, "catalog_artifacts") == 2


def test_two_stores_open_on_one_url_see_each_others_writes(catalog_url: str) -> None:
    one, two = CatalogStore(catalog_url), CatalogStore(catalog_url)
    try:
        artifact_id, _ = put(one, make_key())
        assert found(two, make_key()).id == artifact_id
    finally:
        one.close()
        two.close()


# --- lookups and writes ----------------------------------------------------------------------


def test_lookup_of_an_unknown_key_misses(store: CatalogStore) -> None:
    assert store.lookup(make_key()) is None
    put(store, make_key())
    assert store.lookup(make_key(tag="flyte_cached-other")) is None


def test_put_then_lookup_returns_outputs_and_blob_uris(store: CatalogStore) -> None:
    outputs = {"o0": {"inline": {"a": [1, 2.5, "x", None]}},
               "o1": {"uri": "file:///b/cache/value.json", "format": "json"}}
    uris = ("file:///b/cache/value.json", "file:///b/cache/data.parquet")
    artifact_id, unused = put(store, make_key(), outputs, uris)

    artifact = found(store, make_key())
    assert artifact == CachedArtifact(artifact_id, outputs, list(uris), "fexec", "n0")
    assert unused == []


def test_second_put_without_replace_keeps_the_first_artifact(store: CatalogStore) -> None:
    first_id, _ = put(store, make_key(), {"o0": {"inline": 1}}, ("file:///b/cache/first",))

    second_id, unused = put(store, make_key(), {"o0": {"inline": 2}}, ("file:///b/cache/second",))

    assert second_id == first_id
    assert unused == ["file:///b/cache/second"]  # the loser's blobs are the caller's to delete
    artifact = found(store, make_key())
    assert artifact.outputs == {"o0": {"inline": 1}}
    assert artifact.blob_uris == ["file:///b/cache/first"]
    assert len(store.entries()) == 1


def test_put_with_replace_replaces_and_reports_the_old_blobs(store: CatalogStore) -> None:
    first_id, _ = put(store, make_key(), {"o0": {"inline": 1}},
                      ("file:///b/cache/old", "file:///b/raw/shared"))

    second_id, unused = put(store, make_key(), {"o0": {"inline": 2}},
                            ("file:///b/cache/new", "file:///b/raw/shared"), replace=True)

    assert second_id != first_id
    assert unused == ["file:///b/cache/old"]  # a blob the new artifact still uses is kept
    artifact = found(store, make_key())
    assert artifact.id == second_id
    assert artifact.outputs == {"o0": {"inline": 2}}
    assert [e.artifact_id for e in store.entries()] == [second_id]


@pytest.mark.parametrize("version", ["2-in-out", "1-in2-out", "1-in-out2"],
                         ids=["cache_version", "input_interface", "output_interface"])
def test_another_dataset_version_is_another_key(store: CatalogStore, version: str) -> None:
    put(store, make_key(version="1-in-out"))

    assert store.lookup(make_key(version=version)) is None
    other_id, _ = put(store, make_key(version=version), {"o0": {"inline": 2}})
    assert found(store, make_key(version=version)).id == other_id
    assert found(store, make_key(version="1-in-out")).id != other_id


# --- reservations (cache_serialize) ----------------------------------------------------------


def test_reservation_is_renewed_by_its_owner_and_refused_to_others(store: CatalogStore) -> None:
    key = make_key()
    assert store.reserve(key, "owner-a", 60)
    assert store.reserve(key, "owner-a", 60)  # renewal
    assert not store.reserve(key, "owner-b", 60)
    # Another key is free.
    assert store.reserve(make_key(tag="flyte_cached-other"), "owner-b", 60)


def test_released_reservation_can_be_taken(store: CatalogStore) -> None:
    key = make_key()
    assert store.reserve(key, "owner-a", 60)
    store.release(key, "owner-b")  # not the owner: changes nothing
    assert not store.reserve(key, "owner-b", 60)
    store.release(key, "owner-a")
    assert store.reserve(key, "owner-b", 60)


def test_expired_reservation_can_be_taken(store: CatalogStore) -> None:
    key = make_key()
    assert store.reserve(key, "crashed", 0.2)
    # Refused while it lasts, then taken: polled, not timed.
    wait_until(lambda: store.reserve(key, "owner-b", 60), "the reservation to expire")
    assert not store.reserve(key, "crashed", 60)


def test_one_of_many_racing_owners_gets_a_free_reservation(catalog_url: str) -> None:
    keys = [make_key(tag=f"flyte_cached-{r}") for r in range(ROUNDS)]

    won = race_rounds(catalog_url, ROUNDS,
                      lambda catalog, i, r: catalog.reserve(keys[r], f"owner-{i}", 60))

    assert [sum(w) for w in won] == [1] * ROUNDS, "owners holding one reservation at once"


def test_one_of_many_racing_owners_takes_an_expired_reservation(catalog_url: str) -> None:
    keys = [make_key(tag=f"flyte_cached-{r}") for r in range(ROUNDS)]
    setup = CatalogStore(catalog_url)
    try:
        for key in keys:
            assert setup.reserve(key, "crashed", 0.2)
    finally:
        setup.close()
    lapsed = time.time() + 0.3  # the store's clock is this machine's
    wait_until(lambda: time.time() > lapsed, "the reservations to expire")

    won = race_rounds(catalog_url, ROUNDS,
                      lambda catalog, i, r: catalog.reserve(keys[r], f"owner-{i}", 60))

    assert [sum(w) for w in won] == [1] * ROUNDS, "owners holding one reservation at once"


# --- management ------------------------------------------------------------------------------


def test_entries_are_newest_first_and_filter_by_task_and_version(store: CatalogStore) -> None:
    a, _ = put(store, make_key(task="wf.square", version=dataset_version("1")))
    b, _ = put(store, make_key(task="wf.square", version=dataset_version("2")))
    c, _ = put(store, make_key(task="wf.cube", version=dataset_version("1")), node_id="n1")

    entries = store.entries()
    assert [e.artifact_id for e in entries] == [c, b, a]
    newest = entries[0]
    assert (newest.project, newest.domain, newest.task, newest.version, newest.tag) == (
        "flytesnacks", "development", "wf.cube", dataset_version("1"), "flyte_cached-abc")
    assert (newest.execution, newest.node_id, newest.size_bytes) == ("fexec", "n1", 10)
    assert newest.created_at.tzinfo is not None

    assert [e.artifact_id for e in store.entries(task="wf.square")] == [b, a]
    assert [e.artifact_id for e in store.entries(version="1")] == [c, a]
    assert [e.artifact_id for e in store.entries(task="wf.square", version="2")] == [b]
    assert store.entries(task="wf") == []  # exact names, not prefixes
    assert store.entries(version="3") == []


@pytest.mark.parametrize(("wanted", "others"), [
    ("2024", ["2024-01", "2024-01-02"]),  # a cache_version may hold dashes
    ("1_0", ["1x0", "1%"]),  # or characters that are SQL LIKE wildcards
], ids=["dashes", "like_wildcards"])
def test_version_filter_matches_one_cache_version_exactly(
        store: CatalogStore, wanted: str, others: list[str]) -> None:
    exact, _ = put(store, make_key(version=dataset_version(wanted)))
    for other in others:
        put(store, make_key(version=dataset_version(other)))

    assert [e.artifact_id for e in store.entries(version=wanted)] == [exact]
    for other in others:
        assert len(store.entries(version=other)) == 1, other


def test_entries_older_than_a_moment(store: CatalogStore) -> None:
    old, _ = put(store, make_key(tag="flyte_cached-old"))
    first = store.entries()[0].created_at
    wait_until(lambda: dt.datetime.now(dt.timezone.utc) > first, "the clock to move on")
    cutoff = dt.datetime.now(dt.timezone.utc)
    new, _ = put(store, make_key(tag="flyte_cached-new"))

    assert [e.artifact_id for e in store.entries(older_than=cutoff)] == [old]
    assert [e.artifact_id for e in store.entries()] == [new, old]
    assert store.entries(older_than=first) == []


def test_delete_removes_tags_and_data_and_returns_blob_uris(catalog_url: str,
                                                           store: CatalogStore) -> None:
    gone, _ = put(store, make_key(tag="flyte_cached-a"), {"o0": {"inline": 1}, "o1": {"inline": 2}},
                  ("file:///b/cache/a1", "file:///b/cache/a2"))
    kept, _ = put(store, make_key(tag="flyte_cached-b"), blob_uris=("file:///b/cache/b",))

    uris = store.delete([gone, "no-such-artifact"])

    assert sorted(uris) == ["file:///b/cache/a1", "file:///b/cache/a2"]
    assert store.lookup(make_key(tag="flyte_cached-a")) is None
    assert found(store, make_key(tag="flyte_cached-b")).id == kept
    assert [e.artifact_id for e in store.entries()] == [kept]
    assert count_rows(catalog_url, "catalog_tags") == 1
    assert count_rows(catalog_url, "catalog_artifact_data") == 1
    assert store.delete([gone]) == []
    # The key can be written again.
    again, _ = put(store, make_key(tag="flyte_cached-a"))
    assert found(store, make_key(tag="flyte_cached-a")).id == again


# --- concurrency -----------------------------------------------------------------------------


def assert_one_artifact(url: str, ids: list[str]) -> None:
    assert count_rows(url, "catalog_artifacts") == 1
    assert count_rows(url, "catalog_tags") == 1
    assert count_rows(url, "catalog_datasets") == 1
    assert len(set(ids)) == 1, ids


def test_eight_threads_writing_one_key_leave_one_artifact(catalog_url: str) -> None:
    key = make_key()

    def write_then_read(catalog: CatalogStore, i: int) -> tuple[str, str]:
        written, _ = put(catalog, key, {"o0": {"inline": i}}, (f"file:///b/cache/{i}",))
        return written, found(catalog, key).id

    results = race(catalog_url, write_then_read)

    assert_one_artifact(catalog_url, [i for pair in results for i in pair])


WRITER_SCRIPT = """
import json, os, sys, time
from engine.catalog.keys import CacheKey
from engine.catalog.store import CatalogStore

url, ready, go, index = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
key = CacheKey(*json.loads(sys.argv[5]))
store = CatalogStore(url)
open(os.path.join(ready, str(index)), "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
written, unused = store.put(key, {"o0": {"inline": index}}, execution=f"proc{index}",
                            node_id="n0", size_bytes=1, blob_uris=[f"file:///b/cache/{index}"])
found = store.lookup(key)
print(json.dumps({"written": written, "found": found.id if found else None,
                  "outputs": found.outputs if found else None}))
"""


def start_writer(url: str, key: CacheKey, ready: Path, go: Path, index: int) -> Any:
    fields = [key.project, key.domain, key.dataset, key.version, key.tag]
    return subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, url, str(ready), str(go), str(index),
         json.dumps(fields)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: Any) -> dict[str, Any]:
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_eight_processes_writing_one_key_leave_one_artifact(catalog_url: str,
                                                            tmp_path: Path) -> None:
    # The catalog is new: the processes also race to create its tables.
    key = make_key()
    ready, go = tmp_path / "ready", tmp_path / "go"
    ready.mkdir()
    procs = [start_writer(catalog_url, key, ready, go, i) for i in range(WRITERS)]
    try:
        wait_until(lambda: len(list(ready.iterdir())) == WRITERS
                   or any(p.poll() is not None for p in procs), "the writers to start", 90)
        go.touch()
        results = [finish(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    assert_one_artifact(catalog_url, [r[k] for r in results for k in ("written", "found")])
    assert len({json.dumps(r["outputs"]) for r in results}) == 1


def test_key_written_by_one_process_is_found_by_another(catalog_url: str,
                                                        tmp_path: Path) -> None:
    key = make_key()
    ready = tmp_path / "ready"
    ready.mkdir()
    go = tmp_path / "go"
    go.touch()
    written = finish(start_writer(catalog_url, key, ready, go, 3))["written"]

    catalog = CatalogStore(catalog_url)
    try:
        artifact = found(catalog, key)
    finally:
        catalog.close()
    assert artifact.id == written
    assert artifact.outputs == {"o0": {"inline": 3}}
    assert artifact.blob_uris == ["file:///b/cache/3"]
