"""Managing cached results: ``engine.catalog.cache`` and ``flyray cache list|evict|clear``,
and ``flyray run`` reporting cache statuses and ``--overwrite-cache``; over SQLite and a
real PostgreSQL server, with entries made by real workflows on the shared Ray cluster."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.catalog import cache
from engine.catalog.keys import CacheKey
from engine.catalog.store import CatalogStore
from engine.cli.main import cli
from engine.config import Settings, load_settings
from engine.dag.run.executor import ExecutionResult, run
from engine.types.file import FlyteFile
from tests.fixtures import cached_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")

FIXTURE = str(Path(cached_wfs.__file__))
SQUARE = cached_wfs.square.name
FRAME_AND_FILE = cached_wfs.frame_and_file.name


@pytest.fixture
def settings(tmp_path: Path, catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's catalog and blob store, in the environment too (for the CLI)."""
    monkeypatch.setenv("FLYRAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLYRAY_CATALOG_URL", catalog_url)
    return load_settings({"FLYRAY_HOME": str(tmp_path / "home"),
                          "FLYRAY_CATALOG_URL": catalog_url})


@pytest.fixture
def marker(tmp_path: Path) -> str:
    return str(tmp_path / "marker.txt")


def execute(wf: Any, settings: Settings, **inputs: Any) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs), settings=settings)


def blob_root(settings: Settings) -> Path:
    return Path(settings.blob_root_uri.removeprefix("file://"))


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def body_runs(marker: str) -> int:
    path = Path(marker)
    return len(path.read_text().splitlines()) if path.exists() else 0


def flyray(*args: str, input: str | None = None) -> tuple[int, str]:
    """Run the CLI in-process; its output includes what it wrote to stderr."""
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def make_entries(settings: Settings, marker: str) -> dict[str, str]:
    """Four entries: square at cache_version 1 (x=3, x=4) and 2 (x=3), and frame_and_file.

    Returns the artifact id of each by a short name.
    """
    execute(cached_wfs.square_wf, settings, x=3, marker=marker)
    execute(cached_wfs.square_wf, settings, x=4, marker=marker)
    execute(cached_wfs.square_v2_wf, settings, x=3, marker=marker)
    execute(cached_wfs.frame_and_file_wf, settings, n=3, marker=marker)
    entries = cache.list_entries(settings=settings)
    assert len(entries) == 4
    names = ["frame", "v2", "v1_x4", "v1_x3"]  # newest first
    return {name: e.artifact_id for name, e in zip(names, entries, strict=True)}


# --- from Python -----------------------------------------------------------------------------


def test_list_entries_filters_by_task_version_and_age(settings: Settings, marker: str) -> None:
    ids = make_entries(settings, marker)

    entries = cache.list_entries(settings=settings)
    assert [e.task for e in entries] == [FRAME_AND_FILE, SQUARE, SQUARE, SQUARE]
    assert all(e.size_bytes > 0 for e in entries)
    assert [e.artifact_id for e in cache.list_entries(SQUARE, settings=settings)] == [
        ids["v2"], ids["v1_x4"], ids["v1_x3"]]
    assert [e.artifact_id for e in cache.list_entries(SQUARE, "1", settings=settings)] == [
        ids["v1_x4"], ids["v1_x3"]]
    assert cache.list_entries(older_than=dt.timedelta(hours=1), settings=settings) == []
    assert len(cache.list_entries(older_than=dt.timedelta(0), settings=settings)) == 4


def test_evict_removes_the_entry_and_its_cache_blobs_not_raw_outputs(
        settings: Settings, marker: str) -> None:
    result = execute(cached_wfs.frame_and_file_wf, settings, n=3, marker=marker)
    [entry] = cache.list_entries(settings=settings)
    cached = files_under(blob_root(settings) / "cache")
    assert any(p.suffix == ".parquet" for p in cached), cached
    numbers: FlyteFile = result.outputs[1]
    raw = Path(str(numbers.remote_source).removeprefix("file://"))
    assert raw.is_file() and raw.is_relative_to(blob_root(settings) / "raw")
    assert f"file://{raw}" in entry.blob_uris

    assert cache.evict([entry.artifact_id, "not-an-entry"], settings=settings) == 1

    assert cache.list_entries(settings=settings) == []
    assert files_under(blob_root(settings) / "cache") == []
    assert raw.read_text() == "0 1 2"  # the task's own output stays
    again = execute(cached_wfs.frame_and_file_wf, settings, n=3, marker=marker)
    assert again.record.nodes["n0"].cache_status == "MISS"
    assert body_runs(marker) == 2


def test_evict_task_by_version(settings: Settings, marker: str) -> None:
    ids = make_entries(settings, marker)

    assert cache.evict_task(SQUARE, "1", settings=settings) == 2
    assert {e.artifact_id for e in cache.list_entries(settings=settings)} == {
        ids["v2"], ids["frame"]}

    assert cache.evict_task(SQUARE, settings=settings) == 1
    assert [e.artifact_id for e in cache.list_entries(settings=settings)] == [ids["frame"]]
    assert cache.evict_task("no.such.task", settings=settings) == 0


def test_clear_removes_every_entry_and_cache_blob(settings: Settings, marker: str) -> None:
    make_entries(settings, marker)
    assert files_under(blob_root(settings) / "cache")

    assert cache.clear(settings=settings) == 4

    assert cache.list_entries(settings=settings) == []
    assert files_under(blob_root(settings) / "cache") == []
    assert files_under(blob_root(settings) / "raw")  # outputs of the executions stay
    assert cache.clear(settings=settings) == 0


# --- the CLI ---------------------------------------------------------------------------------


def test_run_prints_cache_statuses_and_overwrites_on_request(settings: Settings,
                                                             marker: str) -> None:
    args = ["run", FIXTURE, "square_wf", "--x", "3", "--marker", marker, "--no-progress"]

    outputs = [flyray(*args), flyray(*args), flyray(*args, "--overwrite-cache"), flyray(*args)]

    assert [code for code, _ in outputs] == [0, 0, 0, 0], outputs
    statuses = [re.findall(r"^cache (\w+): n0 (\S+)$", out, re.M) for _, out in outputs]
    assert statuses == [[("MISS", SQUARE)], [("HIT", SQUARE)], [("OVERWRITTEN", SQUARE)],
                        [("HIT", SQUARE)]], outputs
    assert all(out.startswith("9\n") for _, out in outputs), outputs
    assert body_runs(marker) == 2
    assert len(cache.list_entries(settings=settings)) == 1


@pytest.mark.usefixtures("settings")
def test_run_prints_a_cache_line_for_cached_nodes_only(marker: str) -> None:
    code, out = flyray("run", FIXTURE, "count_rows_wf", "--values", "[1, 2]", "--marker",
                       marker, "--no-progress")
    assert code == 0, out
    # n0 (frame_of) is not cached: only the cached node has a line.
    assert re.findall(r"^cache .*$", out, re.M) == [f"cache MISS: n1 {cached_wfs.count_rows.name}"]


def test_cli_list_shows_entries(settings: Settings, marker: str) -> None:
    ids = make_entries(settings, marker)

    code, out = flyray("cache", "list")
    assert code == 0, out
    assert "4 cached result(s)" in out
    for artifact_id in ids.values():
        assert artifact_id in out

    code, out = flyray("cache", "list", "--task", SQUARE, "--version", "2")
    assert code == 0, out
    assert "1 cached result(s)" in out and ids["v2"] in out and ids["v1_x3"] not in out

    code, out = flyray("cache", "list", "--older-than", "1d")
    assert code == 0, out
    assert "0 cached result(s)" in out


def test_cli_list_shows_the_whole_cache_version(settings: Settings) -> None:
    # A cache_version may hold dashes, as the dataset version that follows it does.
    key = CacheKey("flytesnacks", "development", f"flyte_task-{SQUARE}",
                   f"2024-01-{'a' * 16}-{'b' * 16}", "flyte_cached-x")
    store = CatalogStore(settings.catalog_url)
    try:
        store.put(key, {"o0": {"inline": 9}}, execution="fexec", node_id="n0", size_bytes=1,
                  blob_uris=[])
    finally:
        store.close()

    code, out = flyray("cache", "list")

    assert code == 0, out
    [row] = [line for line in out.splitlines() if SQUARE in line]
    assert re.search(r"\b2024-01\b", row), row


def test_cli_evict_by_id_and_by_task(settings: Settings, marker: str) -> None:
    ids = make_entries(settings, marker)

    code, out = flyray("cache", "evict", ids["frame"])
    assert (code, out) == (0, "evicted 1 cached result(s)\n")
    assert files_under(blob_root(settings) / "cache") == []

    code, out = flyray("cache", "evict", ids["v2"], "not-an-entry")
    assert code == 0
    assert "evicted 1 of 2; the others were not in the catalog" in out

    code, out = flyray("cache", "evict", "--task", SQUARE, "--version", "1")
    assert (code, out) == (0, "evicted 2 cached result(s)\n")
    assert cache.list_entries(settings=settings) == []


def test_cli_evict_needs_ids_or_a_task(settings: Settings) -> None:
    code, out = flyray("cache", "evict")
    assert code == 2 and "give entry ids, or --task" in out
    code, out = flyray("cache", "evict", "some-id", "--task", SQUARE)
    assert code == 2 and "give entry ids, or --task" in out


def test_cli_clear_asks_unless_yes(settings: Settings, marker: str) -> None:
    make_entries(settings, marker)

    code, out = flyray("cache", "clear", input="n\n")
    assert code == 1 and "Aborted" in out
    assert len(cache.list_entries(settings=settings)) == 4

    code, out = flyray("cache", "clear", "--yes")
    assert (code, out) == (0, "evicted 4 cached result(s)\n")
    assert cache.list_entries(settings=settings) == []
    assert files_under(blob_root(settings) / "cache") == []
