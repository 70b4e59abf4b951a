"""Cached tasks in real workflows on the shared Ray cluster, the catalog in SQLite or in a
real PostgreSQL server: hits and misses, what counts in a key, overwrite, broken entries,
cache_serialize, and a catalog that cannot be used.

Whether a task's body ran is read from a marker file the body appends to; nothing here
asserts on elapsed time.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.catalog.blob import StorageConfig
from engine.catalog.keys import cache_key
from engine.catalog.memo import CacheSettings
from engine.catalog.store import CatalogStore
from engine.config import Settings, load_settings
from engine.dag.run.context import ExecutionParameters, NodeServices
from engine.dag.run.executor import ExecutionResult, run
from engine.dag.run.state import ExecutionPhase
from engine.dag.run.worker import execute_node
from engine.types.file import FlyteFile
from tests.conftest import create_database, drop_database
from tests.fixtures import cached_wfs
from tests.servers import free_port

pytestmark = pytest.mark.usefixtures("ray_cluster")


def catalog_settings(home: Path, url: str) -> Settings:
    """Settings as a user's environment would give them: blobs under the home."""
    return load_settings({"FLYRAY_HOME": str(home), "FLYRAY_CATALOG_URL": url,
                          "FLYRAY_LOG_TO_DRIVER": "false"})


@pytest.fixture
def settings(tmp_path: Path, catalog_url: str) -> Settings:
    return catalog_settings(tmp_path / "home", catalog_url)


@pytest.fixture
def catalog(settings: Settings) -> Iterator[CatalogStore]:
    """The test's catalog, opened from the test's process."""
    store = CatalogStore(settings.catalog_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def marker(tmp_path: Path) -> str:
    return str(tmp_path / "marker.txt")


def execute(wf: Any, settings: Settings, overwrite: bool = False, **inputs: Any
            ) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs), settings=settings,
               overwrite_cache=overwrite)


def body_runs(marker: str) -> list[str]:
    """The lines the task bodies appended: one per run."""
    path = Path(marker)
    return path.read_text().splitlines() if path.exists() else []


def status(result: ExecutionResult, task: Any) -> str | None:
    """The cache status of the one node of ``task``."""
    [node] = [n for n in result.record.nodes.values() if n.task == task.name]
    return node.cache_status


def cache_files(settings: Settings) -> list[Path]:
    """Files the catalog wrote under <blob_root>/cache."""
    root = Path(settings.blob_root_uri.removeprefix("file://")) / "cache"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- hits and misses -------------------------------------------------------------------------


def test_second_run_hits_without_running_the_body(settings: Settings, marker: str) -> None:
    first = execute(cached_wfs.square_wf, settings, x=3, marker=marker)
    second = execute(cached_wfs.square_wf, settings, x=3, marker=marker)

    assert (first.outputs, second.outputs) == (9, 9)
    assert status(first, cached_wfs.square) == "MISS"
    assert status(second, cached_wfs.square) == "HIT"
    assert second.record.phase is ExecutionPhase.SUCCEEDED
    assert body_runs(marker) == ["ran"]

    other = execute(cached_wfs.square_wf, settings, x=4, marker=marker)
    assert (other.outputs, status(other, cached_wfs.square)) == (16, "MISS")
    assert len(body_runs(marker)) == 2


def test_new_cache_version_misses_and_old_one_still_hits(settings: Settings,
                                                         marker: str) -> None:
    execute(cached_wfs.square_wf, settings, x=3, marker=marker)

    bumped = execute(cached_wfs.square_v2_wf, settings, x=3, marker=marker)
    assert (bumped.outputs, status(bumped, cached_wfs.square_v2)) == (9, "MISS")
    assert len(body_runs(marker)) == 2

    assert status(execute(cached_wfs.square_wf, settings, x=3, marker=marker),
                  cached_wfs.square) == "HIT"
    assert status(execute(cached_wfs.square_v2_wf, settings, x=3, marker=marker),
                  cached_wfs.square_v2) == "HIT"
    assert len(body_runs(marker)) == 2


def test_changed_interface_misses(settings: Settings, marker: str) -> None:
    execute(cached_wfs.square_wf, settings, x=3, marker=marker)

    changed = execute(cached_wfs.square_float_wf, settings, x=3, marker=marker)

    assert changed.outputs == 9.0 and isinstance(changed.outputs, float)
    assert status(changed, cached_wfs.square_float) == "MISS"
    assert len(body_runs(marker)) == 2


def test_ignored_input_does_not_count_in_the_key(settings: Settings, marker: str) -> None:
    first = execute(cached_wfs.square_with_note_wf, settings, x=3, note="a", marker=marker)
    second = execute(cached_wfs.square_with_note_wf, settings, x=3, note="b", marker=marker)

    assert first.outputs == "9 a"
    assert second.outputs == "9 a"  # what the cached run returned
    assert status(second, cached_wfs.square_with_note) == "HIT"
    other = execute(cached_wfs.square_with_note_wf, settings, x=4, note="b", marker=marker)
    assert (other.outputs, status(other, cached_wfs.square_with_note)) == ("16 b", "MISS")
    assert len(body_runs(marker)) == 2


def test_equal_dataframes_hit_whoever_produced_them(settings: Settings, marker: str) -> None:
    first = execute(cached_wfs.total_of_squares, settings, n=5, marker=marker)
    assert first.outputs == 30
    assert status(first, cached_wfs.frame_total) == "MISS"
    assert status(first, cached_wfs.squares_frame) == "DISABLED"

    # A frame made by another execution of the same task, then by another task.
    again = execute(cached_wfs.total_of_squares, settings, n=5, marker=marker)
    elsewhere = execute(cached_wfs.total_of_squares_again, settings, n=5, marker=marker)
    assert status(again, cached_wfs.frame_total) == "HIT"
    assert status(elsewhere, cached_wfs.frame_total) == "HIT"
    assert (again.outputs, elsewhere.outputs) == (30, 30)
    assert len(body_runs(marker)) == 1

    different = execute(cached_wfs.total_of_squares, settings, n=6, marker=marker)
    assert (different.outputs, status(different, cached_wfs.frame_total)) == (55, "MISS")
    assert len(body_runs(marker)) == 2


def test_hash_method_in_annotated_replaces_the_content_hash(settings: Settings,
                                                           marker: str) -> None:
    # count_rows hashes its dataframe by the number of rows only.
    first = execute(cached_wfs.count_rows_wf, settings, values=[1, 2, 3], marker=marker)
    same_length = execute(cached_wfs.count_rows_wf, settings, values=[7, 8, 9], marker=marker)
    shorter = execute(cached_wfs.count_rows_wf, settings, values=[1, 2], marker=marker)

    assert [status(r, cached_wfs.count_rows) for r in (first, same_length, shorter)] == [
        "MISS", "HIT", "MISS"]
    assert (first.outputs, same_length.outputs, shorter.outputs) == (3, 3, 2)
    assert len(body_runs(marker)) == 2


def test_file_input_is_hashed_by_content_not_path(settings: Settings, marker: str,
                                                  tmp_path: Path) -> None:
    one, two, other = tmp_path / "one.txt", tmp_path / "sub" / "two.txt", tmp_path / "x.txt"
    two.parent.mkdir()
    one.write_text("same text")
    two.write_text("same text")
    other.write_text("other text")

    results = [execute(cached_wfs.file_length_wf, settings, f=FlyteFile(str(p)), marker=marker)
               for p in (one, two, other)]

    assert [r.outputs for r in results] == [9, 9, 10]
    assert [status(r, cached_wfs.file_length) for r in results] == ["MISS", "HIT", "MISS"]
    assert len(body_runs(marker)) == 2


# --- overwrite -------------------------------------------------------------------------------


def test_overwrite_recomputes_and_replaces_the_entry(settings: Settings, marker: str,
                                                     catalog: CatalogStore) -> None:
    execute(cached_wfs.square_wf, settings, x=3, marker=marker)
    [before] = catalog.entries()

    overwritten = execute(cached_wfs.square_wf, settings, overwrite=True, x=3, marker=marker)

    assert (overwritten.outputs, status(overwritten, cached_wfs.square)) == (9, "OVERWRITTEN")
    assert len(body_runs(marker)) == 2
    [after] = catalog.entries()
    assert after.artifact_id != before.artifact_id
    assert after.execution == overwritten.record.name
    assert status(execute(cached_wfs.square_wf, settings, x=3, marker=marker),
                  cached_wfs.square) == "HIT"
    assert len(body_runs(marker)) == 2


# --- broken entries --------------------------------------------------------------------------


def test_vanished_blob_is_recomputed_and_the_entry_repopulated(
        settings: Settings, marker: str, catalog: CatalogStore) -> None:
    first = execute(cached_wfs.frame_and_file_wf, settings, n=4, marker=marker)
    parquet = [p for p in cache_files(settings) if p.suffix == ".parquet"]
    assert parquet, cache_files(settings)
    for path in parquet:
        path.unlink()

    second = execute(cached_wfs.frame_and_file_wf, settings, n=4, marker=marker)

    assert status(second, cached_wfs.frame_and_file) == "MISS"
    assert len(body_runs(marker)) == 2
    frame, numbers = second.outputs
    pd.testing.assert_frame_equal(frame, first.outputs[0])
    with open(numbers.download()) as handle:
        assert handle.read() == "0 1 2 3"
    assert [p for p in cache_files(settings) if p.suffix == ".parquet"]
    assert len(catalog.entries()) == 1

    third = execute(cached_wfs.frame_and_file_wf, settings, n=4, marker=marker)
    assert status(third, cached_wfs.frame_and_file) == "HIT"
    pd.testing.assert_frame_equal(third.outputs[0], first.outputs[0])
    assert len(body_runs(marker)) == 2


# --- cache_serialize -------------------------------------------------------------------------


def test_concurrent_runs_of_one_key_compute_once(settings: Settings, marker: str) -> None:
    compiled = cached_wfs.slow_square_wf.compile()
    inputs = cached_wfs.slow_square_wf.bind_inputs((), {"x": 3, "pause": 2.0, "marker": marker})
    results: list[ExecutionResult] = []
    errors: list[BaseException] = []

    def launch() -> None:
        try:
            results.append(run(compiled, inputs, settings=settings))
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)

    assert not errors, errors
    assert [r.outputs for r in results] == [9, 9]
    assert len(body_runs(marker)) == 1
    assert sorted(status(r, cached_wfs.slow_square) or "" for r in results) == ["HIT", "MISS"]


def test_reservation_of_a_crashed_holder_expires(settings: Settings, marker: str,
                                                 catalog: CatalogStore) -> None:
    task = cached_wfs.slow_square
    inputs = {"x": 5, "pause": 0.0, "marker": marker}
    spec = task.spec()
    key = cache_key(spec, inputs, task.python_interface.inputs,
                    spec.metadata.cache_ignore_input_vars)
    ttl = 1.0
    taken_at = time.time()
    assert catalog.reserve(key, "crashed-worker", ttl)  # its holder never renews or releases

    result = execute(cached_wfs.slow_square_wf, settings, **inputs)

    assert (result.outputs, status(result, task)) == (25, "MISS")
    [line] = body_runs(marker)
    started = float(line.removeprefix("started "))
    assert started >= taken_at + ttl, "the body ran while another held the reservation"
    # The run released what it took over.
    assert catalog.reserve(key, "next-worker", 60)
    assert catalog.lookup(key) is not None


# --- a catalog that cannot be used -----------------------------------------------------------


def closed_postgres_port(tmp_path: Path) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/catalog"


def sqlite_under_a_file(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("not a directory")
    return f"sqlite:///{tmp_path}/a-file/catalog.db"


@pytest.mark.parametrize("bad_url", [closed_postgres_port, sqlite_under_a_file],
                         ids=["postgresql_closed_port", "sqlite_path_under_a_file"])
def test_catalog_that_cannot_be_opened_runs_the_task_uncached(
        tmp_path: Path, marker: str, bad_url: Any) -> None:
    settings = catalog_settings(tmp_path / "home", bad_url(tmp_path))

    results = [execute(cached_wfs.square_wf, settings, x=3, marker=marker) for _ in range(2)]

    for result in results:
        assert result.record.phase is ExecutionPhase.SUCCEEDED
        assert (result.outputs, status(result, cached_wfs.square)) == (9, "FAILED")
    assert len(body_runs(marker)) == 2


def test_catalog_lost_after_it_was_opened_runs_the_task_uncached(
        postgres_server: str, tmp_path: Path, marker: str) -> None:
    # A worker keeps its catalog open between nodes; the database then goes away
    # (a PostgreSQL restart, a dropped database). execute_node is what a worker runs.
    url = create_database(postgres_server)
    try:
        services = NodeServices(StorageConfig(root=f"file://{tmp_path}/blobs"),
                                CacheSettings(url, 1 << 20))
        inputs = {"x": 3, "marker": marker}

        def attempt() -> str:
            params = ExecutionParameters(execution_id="f" + uuid.uuid4().hex[:19],
                                         node_id="n0", task_name=cached_wfs.square.name)
            values, info = execute_node(cached_wfs.square, inputs, params, services)
            assert values == [9]
            return str(info.cache_status.value)

        assert attempt() == "MISS"
        assert attempt() == "HIT"
    finally:
        drop_database(url)
    assert attempt() == "FAILED"
    assert len(body_runs(marker)) == 2
