"""Sub-workflows: a workflow called inside a workflow is inlined into the caller's DAG."""

from __future__ import annotations

import pytest

from engine import task, workflow
from engine.dag.executor import run
from engine.dag.validate import load_workflow
from engine.errors import BindingError
from tests.fixtures import subworkflow_wfs as wfs


def test_nodes_of_a_sub_workflow_are_inlined_with_prefixed_ids() -> None:
    spec = wfs.outer.compile().spec
    ids = [n.id for n in spec.nodes]
    assert ids[:2] == ["n0-n0", "n0-n1"]  # inner's add and describe
    assert "n1-n0-n0" in ids and "n1-n1-n0" in ids  # middle's two calls of inner
    assert load_workflow(spec.to_json()) == spec


@pytest.mark.usefixtures("ray_cluster")
def test_nested_sub_workflows_compute_with_defaults_and_named_outputs() -> None:
    # inner(a, b=1) -> 5+1=6; middle(6) = inner(6).total + inner(1, 2).total = 16 + 3
    result = run(wfs.outer.compile(), {"a": 5})
    assert tuple(result.outputs) == (19, "x=6")
    phases = {n.phase.value for n in result.record.nodes.values()}
    assert phases == {"SUCCEEDED"}
    assert "n1-n0-n1" in result.record.nodes


@pytest.mark.usefixtures("ray_cluster")
def test_independent_sub_workflows_run_in_parallel() -> None:
    result = run(wfs.parallel_children.compile(), {"x": 1})
    first = result.record.nodes["n0-n0"].attempts[0]
    second = result.record.nodes["n1-n0"].attempts[0]
    assert first.end is not None and second.end is not None
    assert max(first.start, second.start) < min(first.end, second.end)


@pytest.mark.usefixtures("ray_cluster")
def test_a_sub_workflow_returning_its_input_passes_the_value_through() -> None:
    assert wfs.uses_passthrough(x=41) == 42


def test_a_sub_workflow_input_is_type_checked_at_compile_time() -> None:
    @task
    def text() -> str:
        return "a"

    @workflow
    def bad() -> int:
        return wfs.inner(a=text()).total

    with pytest.raises(BindingError) as info:
        bad.compile()
    message = str(info.value)
    assert "sub-workflow 'tests.fixtures.subworkflow_wfs.inner'" in message
    assert "input 'a'" in message and "expected int, got str" in message
    assert "test_subworkflows.py:" in message


def test_unknown_sub_workflow_input_names_what_it_takes() -> None:
    @workflow
    def bad() -> int:
        return wfs.passthrough(y=1)

    with pytest.raises(BindingError, match=r"unknown input 'y'; workflow .* takes \(x: int\)"):
        bad.compile()
