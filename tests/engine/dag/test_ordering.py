"""create_node and '>>': order nodes that share no data."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import create_node
from engine.dag.run.executor import run
from engine.errors import CompileError, SpecError
from tests.fixtures import ordering_wfs as wfs


def test_the_order_is_recorded_in_the_spec() -> None:
    spec = wfs.ordered_by_create_node.compile().spec
    assert spec.node("n1").extra_upstream == ("n0",)
    assert spec.node("n1").upstream() == ["n0"]


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize("wf", [wfs.ordered_by_create_node, wfs.ordered_by_promises])
def test_the_later_node_runs_after_the_earlier_one(wf: object, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    result = run(wf.compile(), {"path": str(path)})  # type: ignore[attr-defined]
    assert result.outputs in ("written first", "also first")
    first = result.record.nodes["n0"].attempts[0]
    second = result.record.nodes["n1"].attempts[0]
    assert first.end is not None and second.start >= first.end


def test_an_ordering_cycle_is_rejected() -> None:
    with pytest.raises(SpecError, match="cycle"):
        wfs.cycle.compile()


def test_create_node_outside_a_workflow_is_an_error() -> None:
    with pytest.raises(CompileError, match="inside a @workflow"):
        create_node(wfs.read, path="x")
