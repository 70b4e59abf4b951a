"""Failure policies: fail at once, or let nodes independent of the failure finish."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.dag.run.executor import run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord, NodePhase
from engine.dag.validate import load_workflow
from engine.errors import NodeFailedError
from tests.fixtures import failure_policy_wfs as wfs


class Keep(ExecutionHooks):
    record: ExecutionRecord | None = None

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.record = record


def run_failing(wf: object, path: Path) -> tuple[NodeFailedError, ExecutionRecord]:
    keep = Keep()
    with pytest.raises(NodeFailedError) as info:
        run(wf.compile(), {"path": str(path)}, hooks=[keep])  # type: ignore[attr-defined]
    assert keep.record is not None
    return info.value, keep.record


@pytest.mark.usefixtures("ray_cluster")
def test_independent_nodes_finish_before_the_workflow_fails(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    error, record = run_failing(wfs.let_others_finish, marker)
    assert error.node_id == "n0" and "boom 1" in error.cause
    assert marker.read_text() == "finished"
    phases = {n: r.phase for n, r in record.nodes.items()}
    assert phases == {"n0": NodePhase.FAILED, "n1": NodePhase.SKIPPED,
                      "n2": NodePhase.SUCCEEDED}
    assert record.nodes["n1"].attempts == []
    assert record.phase.value == "FAILED"


@pytest.mark.usefixtures("ray_cluster")
def test_fail_immediately_cancels_the_independent_node(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _, record = run_failing(wfs.fail_fast, marker)
    assert record.nodes["n2"].phase is NodePhase.ABORTED
    assert record.nodes["n1"].phase is NodePhase.SKIPPED
    time.sleep(2)  # past the task's own 1.5 s: had it not been stopped, it would have written
    assert not marker.exists()


def test_the_policy_is_part_of_the_spec() -> None:
    spec = wfs.let_others_finish.compile().spec
    assert spec.failure_policy.value == "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"
    assert load_workflow(spec.to_json()).failure_policy is spec.failure_policy
    assert wfs.fail_fast.compile().spec.failure_policy.value == "FAIL_IMMEDIATELY"
