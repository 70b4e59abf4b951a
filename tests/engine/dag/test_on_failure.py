"""@workflow(on_failure=task): the handler runs with the error when the workflow fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import workflow
from engine.dag.run.executor import run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord, NodePhase
from engine.errors import CompileError, NodeFailedError
from tests.fixtures import on_failure_wfs as wfs


class Keep(ExecutionHooks):
    record: ExecutionRecord | None = None

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.record = record


@pytest.mark.usefixtures("ray_cluster")
def test_the_handler_gets_the_inputs_and_the_error(tmp_path: Path) -> None:
    keep = Keep()
    with pytest.raises(NodeFailedError, match="the data is bad"):
        run(wfs.guarded.compile(), {"directory": str(tmp_path)}, hooks=[keep])
    report = (tmp_path / "report").read_text()
    assert report.startswith("n0: ") and "ValueError: the data is bad" in report
    assert keep.record is not None
    assert keep.record.nodes["on-failure"].phase is NodePhase.SUCCEEDED


@pytest.mark.usefixtures("ray_cluster")
def test_the_handler_does_not_run_when_the_workflow_succeeds(tmp_path: Path) -> None:
    assert wfs.fine(directory=str(tmp_path)) == 1
    assert not (tmp_path / "report").exists()


def test_a_handler_whose_inputs_do_not_match_fails_at_compile_time() -> None:
    @workflow(on_failure=wfs.bad_handler)
    def wf(directory: str) -> int:
        return wfs.works(directory=directory)

    with pytest.raises(CompileError, match="input 'other' is not an input of the workflow"):
        wf.compile()
