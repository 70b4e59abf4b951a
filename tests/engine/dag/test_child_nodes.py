"""Nodes that run nodes inside themselves show them as children in the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.dag.run.executor import run
from engine.dag.run.state import NodePhase
from engine.errors import NodeFailedError
from tests.fixtures import children_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_map_elements_are_child_nodes_with_their_attempts(tmp_path: Path) -> None:
    result = run(children_wfs.mapped.compile(), {"xs": [2, 3, -1], "directory": str(tmp_path)})
    assert result.outputs == [2, 3, None]
    (node,) = result.record.nodes.values()
    assert node.phase is NodePhase.SUCCEEDED
    assert list(node.children) == ["0", "1", "2"]
    first, second, third = node.children.values()
    assert first.node_id == "n0-0" and first.task.endswith("odd_fails_once")
    assert [a.outcome for a in first.attempts] == [NodePhase.SUCCEEDED]
    assert first.attempts[0].cache_status == "DISABLED"
    # Element 1 failed once and succeeded on its retry; element 2 failed both attempts.
    assert [a.outcome for a in second.attempts] == [NodePhase.FAILED, NodePhase.SUCCEEDED]
    assert "first attempt of element 3" in (second.attempts[0].error or "")
    assert third.phase is NodePhase.FAILED and len(third.attempts) == 2
    assert "ValueError: negative" in (third.error or "")


def test_dynamic_sub_dag_nodes_are_child_nodes() -> None:
    result = run(children_wfs.with_dynamic.compile(), {"n": 3})
    assert result.outputs == [0, 2, 4]
    (node,) = result.record.nodes.values()
    assert sorted(node.children) == ["n0", "n1", "n2"]
    assert all(c.phase is NodePhase.SUCCEEDED for c in node.children.values())
    assert all(c.task.endswith(".double") for c in node.children.values())
    assert node.child_execution and node.child_execution != result.record.name


def test_a_dynamic_returning_the_wrong_type_fails_with_a_clear_error() -> None:
    with pytest.raises(NodeFailedError) as info:
        children_wfs.with_broken_dynamic(n=2)
    message = str(info.value)
    assert "BindingError" in message and "children_wfs.broken" in message
    assert "output 'o0': expected int, got a list holding promises" in message


def test_a_launch_plan_in_a_workflow_is_a_child_execution() -> None:
    compiled = children_wfs.with_launch_plan.compile()
    lp_nodes = [n for n in compiled.spec.nodes if n.task == "pair_from_ten"]
    assert len(lp_nodes) == 2  # one node each: the plan's workflow is not inlined
    assert compiled.spec.tasks["pair_from_ten"].id.resource_type.value == "launch_plan"
    result = run(compiled, {"b": 5})
    # a is fixed at 10; b is 5 in one call and its default 1 in the other.
    assert result.outputs == (20 + 10) + (20 + 2)
    children = [result.record.nodes[n.id] for n in lp_nodes]
    names = {c.child_execution for c in children}
    assert len(names) == 2 and result.record.name not in names
    for child in children:
        assert child.phase is NodePhase.SUCCEEDED
        assert sorted(child.children) == ["n0", "n1", "n2"]


def test_a_failed_child_shows_in_the_failed_node(tmp_path: Path) -> None:
    from engine.dag.run.hooks import ExecutionHooks
    from engine.dag.run.state import ExecutionRecord

    class Last(ExecutionHooks):
        record: ExecutionRecord | None = None

        def on_execution_end(self, record: ExecutionRecord) -> None:
            self.record = record

    last = Last()
    with pytest.raises(NodeFailedError, match="ValueError: negative"):
        run(children_wfs.failing_dynamic.compile(), {"directory": str(tmp_path)}, hooks=[last])
    assert last.record is not None and last.record.parent is None
    (node,) = last.record.nodes.values()
    assert node.phase is NodePhase.FAILED
    phases = {c.task.rsplit(".", 1)[-1]: c.phase for c in node.children.values()}
    assert phases == {"double": NodePhase.SUCCEEDED, "odd_fails_once": NodePhase.FAILED}
