"""Files and directories between tasks: uploaded once by the producer, read lazily by the
consumer, format tags checked at compile time, missing files reported by name."""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.catalog.blob import DIRECTORY_MARKER
from engine.cli.main import cli
from engine.config import load_settings
from engine.dag.run.executor import ExecutionResult, run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord
from engine.errors import BindingError, DataError, ErrorKind, NodeFailedError
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from engine.types.literal import Kind
from engine.types.type_engine import TypeEngine
from tests.fixtures import data_wfs

FIXTURE = str(Path(data_wfs.__file__).resolve())

pytestmark = pytest.mark.usefixtures("ray_cluster")


def execute(wf: Any, hooks: list[ExecutionHooks] | None = None, **inputs: Any) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs), hooks=hooks or [])


def blob_root() -> str:
    return load_settings().blob_root_uri


def raw_prefix(record: ExecutionRecord, task: Any) -> str:
    """Where the first attempt of the (only) node running ``task`` uploads its files."""
    [node_id] = [n for n, r in record.nodes.items() if r.task == task.name]
    return f"{blob_root()}/raw/{record.name}/{node_id}/0/"


def local_path(uri: str) -> Path:
    assert uri.startswith("file://"), uri
    return Path(uri.removeprefix("file://"))


def split_sources(seen: list[str]) -> tuple[list[str], list[str]]:
    """'text@source' items into texts and sources."""
    pairs = [s.rsplit("@", 1) for s in seen]
    return [t for t, _ in pairs], [s for _, s in pairs]


def test_blob_root_is_the_sessions_home() -> None:
    home = Path(os.environ["FLYRAY_HOME"]).resolve()
    assert blob_root() == f"file://{home}/blobs"


# --- task to task ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wf", "producer", "name"),
    [
        (data_wfs.file_round_trip, data_wfs.write_file, "out.txt"),
        (data_wfs.plain_path_round_trip, data_wfs.write_plain_path, "plain.txt"),
    ],
    ids=["FlyteFile", "str-path"],
)
def test_file_a_task_wrote_is_read_downstream(wf: Any, producer: Any, name: str) -> None:
    text = "first line\nsecond line\n"
    result = execute(wf, text=text)

    seen = result.outputs
    assert (seen["open"], seen["fspath"], seen["download"]) == (text, text, text)
    assert seen["type"] == "FlyteFile"
    source = seen["source"]
    assert source.startswith(raw_prefix(result.record, producer)), source
    assert source.endswith(f"/{name}")
    # The uploaded copy is in the session's blob store, outside any task's scratch space.
    assert local_path(source).read_text() == text


def test_receiving_a_file_does_not_download_it() -> None:
    untouched, touched = execute(data_wfs.lazy_download, text="lazy").outputs
    assert untouched is False
    assert touched is True


def test_file_inside_a_dataclass_flows_between_tasks() -> None:
    result = execute(data_wfs.bundle_round_trip, n=2)

    texts, sources = split_sources(result.outputs)
    assert texts == ["main", "part 0", "part 1"]
    prefix = raw_prefix(result.record, data_wfs.write_bundle)
    assert all(s.startswith(prefix) for s in sources), sources
    assert [s.rsplit("/", 1)[1] for s in sources] == ["main.txt", "part0.txt", "part1.txt"]
    assert len(set(sources)) == 3


def test_list_of_files_flows_between_tasks() -> None:
    result = execute(data_wfs.list_round_trip, n=3)

    texts, sources = split_sources(result.outputs)
    assert texts == ["0", "1", "2"]
    prefix = raw_prefix(result.record, data_wfs.write_many)
    assert all(s.startswith(prefix) for s in sources), sources
    assert [local_path(s).read_text() for s in sources] == ["0", "1", "2"]


def test_workflow_file_output_downloads_in_the_driver() -> None:
    f = data_wfs.file_output(text="for the driver")

    assert isinstance(f, FlyteFile)
    assert f.remote_source is not None and f.remote_source.startswith(f"{blob_root()}/raw/")
    assert not f.downloaded
    with f.open("r") as handle:  # type: ignore[attr-defined]
        assert handle.read() == "for the driver"
    assert f.downloaded
    assert Path(f.download()).read_text() == "for the driver"
    assert Path(f.download()) != local_path(f.remote_source)  # a copy, not the stored blob


def test_returning_a_file_never_written_fails_naming_task_node_output_and_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "never-written.txt"
    with pytest.raises(NodeFailedError) as info:
        execute(data_wfs.missing_output_file, path=str(path))

    error = info.value
    assert error.kind is ErrorKind.USER
    assert (error.node_id, error.task) == ("n0", data_wfs.write_missing.name)
    assert error.cause.startswith("DataError: ")
    for part in (f"task '{data_wfs.write_missing.name}'", "node 'n0'", "output 'o0'", str(path)):
        assert part in error.cause, error.cause
    assert str(path) in str(error)


# --- format tags -----------------------------------------------------------------------------


def test_format_tag_is_the_literal_types_format() -> None:
    tagged = TypeEngine.to_literal_type(FlyteFile[typing.TypeVar("csv")])
    assert (tagged.kind, tagged.format, tagged.multipart) == (Kind.BLOB, "csv", False)
    assert TypeEngine.to_literal_type(FlyteFile).format == ""
    assert TypeEngine.to_literal_type(data_wfs.JsonFile).format == "json"
    assert TypeEngine.to_literal_type(FlyteDirectory).multipart is True


def test_tagged_file_binds_to_the_same_tag_and_to_untagged() -> None:
    assert execute(data_wfs.csv_into_csv, rows=4).outputs == 4
    assert execute(data_wfs.csv_into_untagged, rows=3).outputs == 3


def test_csv_file_into_json_input_fails_at_compile_time() -> None:
    with pytest.raises(BindingError) as info:
        data_wfs.csv_into_json.compile()
    message = str(info.value)
    assert "input 'f'" in message, message
    assert "expected FlyteFile[json], got FlyteFile[csv]" in message, message


# --- directories -----------------------------------------------------------------------------


def test_nested_directory_round_trips() -> None:
    result = execute(data_wfs.directory_round_trip)

    found = dict(result.outputs)
    source = found.pop("<source>")
    assert found == data_wfs.TREE
    assert source.startswith(raw_prefix(result.record, data_wfs.write_tree)), source
    stored = local_path(source)
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*")
                  if p.is_file() and p.name != DIRECTORY_MARKER) == sorted(data_wfs.TREE)


def test_empty_directory_round_trips() -> None:
    result = execute(data_wfs.empty_directory_round_trip)

    found = dict(result.outputs)
    source = found.pop("<source>")
    assert found == {}
    assert source.startswith(raw_prefix(result.record, data_wfs.write_empty_dir)), source


# --- workflow inputs -------------------------------------------------------------------------


class StartKeeper(ExecutionHooks):
    started: bool = False

    def on_execution_start(self, record: ExecutionRecord) -> None:
        self.started = True


@pytest.mark.parametrize("as_type", [str, FlyteFile], ids=["str", "FlyteFile"])
def test_local_file_given_as_workflow_input_is_uploaded_first(
    tmp_path: Path, as_type: Any
) -> None:
    path = tmp_path / "input.txt"
    path.write_text("given by the caller")
    result = execute(data_wfs.read_workflow_input, f=as_type(str(path)))

    seen = result.outputs
    assert seen["text"] == "given by the caller"
    assert seen["source"].startswith(f"{blob_root()}/raw/{result.record.name}/inputs/"), seen
    assert local_path(seen["source"]).read_text() == "given by the caller"
    assert path.read_text() == "given by the caller"


def test_missing_workflow_input_file_fails_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "touched"
    missing = tmp_path / "no-such-input.txt"
    keeper = StartKeeper()
    wf = data_wfs.touch_and_read
    with pytest.raises(DataError) as info:
        execute(wf, hooks=[keeper], marker=str(marker), f=str(missing))

    message = str(info.value)
    for part in (f"workflow '{wf.name}'", "input 'f'", str(missing)):
        assert part in message, message
    assert not keeper.started
    assert not marker.exists()

    # The same run with the file present does run the independent node.
    missing.write_text("now here")
    touched, seen = execute(wf, hooks=[keeper], marker=str(marker), f=str(missing)).outputs
    assert keeper.started and marker.read_text() == "ran"
    assert (touched, seen["text"]) == (str(marker), "now here")


# --- command line ----------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cli_file_input_is_read_by_the_task(tmp_path: Path) -> None:
    path = tmp_path / "cli.txt"
    path.write_text("from the command line")
    assert invoke(FIXTURE, "cat_file", "--f", str(path)) == (0, "from the command line\n")


def test_cli_rejects_a_missing_file_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent.txt"
    code, out = invoke(FIXTURE, "cat_file", "--f", str(missing))
    assert code == 2, out
    assert "'--f'" in out and "absent.txt" in out and "is not an existing file" in out, out
