"""FlyteContextManager.current_context(): file_access, execution_state and
user_space_params, inside a node attempt and outside; and Echo."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog.blob import BlobStore, StorageConfig
from engine.core.context_manager import ExecutionState, FlyteContext, FlyteContextManager
from engine.dag.run.context import current_context
from engine.extend import context_manager
from engine.types.file_access import FileAccessProvider
from engine.types.type_engine import DataContext
from tests.fixtures import python_task_wfs as wfs


@pytest.mark.usefixtures("ray_cluster")
def test_a_task_reaches_its_attempts_services_through_the_context() -> None:
    mode, execution, node, uri, copied = wfs.facts(payload="hello")
    assert mode == "TASK_EXECUTION" and node == "n0" and execution != "local"
    # Under the attempt's raw-output prefix: execution, node, attempt.
    assert f"/raw/{execution}/n0/0/" in uri and uri.endswith("/payload.txt")
    assert copied == "hello"


def test_outside_an_execution_the_context_uses_local_defaults(tmp_path: Path) -> None:
    ctx = FlyteContextManager.current_context()
    assert ctx is not None and FlyteContext.current_context().execution_state.mode is None
    assert not ctx.execution_state.is_local_execution()
    assert ctx.user_space_params.execution_id == current_context().execution_id == "local"
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    uri = ctx.file_access.put_raw_data(str(source))
    assert uri.endswith("/data.csv") and "/raw/local/" in uri
    directory = ctx.file_access.get_random_local_directory()
    assert Path(directory).is_dir()
    back = Path(directory, "back.csv")
    ctx.file_access.download(uri, str(back))
    assert back.read_text() == "a,b\n1,2\n"
    assert context_manager.FlyteContextManager is FlyteContextManager


def test_with_context_gives_a_context_within_its_block(tmp_path: Path) -> None:
    ctx = FlyteContextManager.current_context()
    provider = FileAccessProvider(DataContext(BlobStore(StorageConfig(tmp_path.as_uri())),
                                              (tmp_path / "raw").as_uri(), tmp_path / "local"))
    state = ExecutionState(ExecutionState.Mode.LOCAL_WORKFLOW_EXECUTION)
    with FlyteContextManager.with_context(
            ctx.with_file_access(provider).with_execution_state(state)) as inner:
        assert FlyteContextManager.current_context() is inner
        assert inner.execution_state.is_local_execution()
        remote = inner.file_access.get_random_remote_path("x.bin")
        assert remote.startswith((tmp_path / "raw").as_uri())
        assert inner.file_access.put_raw_data(b"xyz", file_name="x.bin").startswith(
            (tmp_path / "raw").as_uri())
    assert FlyteContextManager.current_context().file_access is not provider
    with pytest.raises(RuntimeError, match="push_context"):
        FlyteContextManager.pop_context()


@pytest.mark.usefixtures("ray_cluster")
def test_echo_passes_its_input_through_in_a_conditional() -> None:
    assert wfs.echo_or_halve(a=3.0) == 3.0
    assert wfs.echo_or_halve(a=30.0) == 15.0
    assert wfs.echo(a=1.5) == 1.5
    assert wfs.echo.spec().metadata.requests.cpu == 0
