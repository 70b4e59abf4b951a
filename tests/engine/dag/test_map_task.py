"""map_task: elements in parallel batches, each with the task's retries and cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import map_task, workflow
from engine.dag.run.executor import run
from engine.errors import BindingError, NodeFailedError
from tests.fixtures import map_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_a_thousand_elements() -> None:
    assert map_wfs.thousand() == sum(x * x for x in range(1000))


def test_partial_inputs_stay_fixed_and_concurrency_is_accepted() -> None:
    assert map_wfs.with_partial(xs=[1, 2, 3]) == [11, 14, 19]


def test_an_input_with_a_default_can_be_mapped_too() -> None:
    assert map_wfs.mapped_default(xs=[1, 2], offsets=[5, 6]) == [6, 10]


def test_failed_elements_give_none_within_min_success_ratio() -> None:
    assert map_wfs.tolerant(xs=[1, -2, 3]) == [1, None, 3]
    outputs = map_wfs.tolerant.compile().spec.interface.outputs
    assert str(outputs[0].type) == "list[Optional[int]]"


def test_too_many_failures_fail_the_node_with_the_first_error() -> None:
    with pytest.raises(NodeFailedError) as info:
        map_wfs.strict(xs=[1, -2, 3])
    message = str(info.value)
    assert "1 of 3 elements failed" in message and "min_success_ratio=1" in message
    assert "ValueError: negative input -2" in message
    with pytest.raises(NodeFailedError, match="2 of 3 elements failed"):
        map_wfs.tolerant(xs=[-1, -2, 3])


def test_each_element_honours_the_task_retries(tmp_path: Path) -> None:
    assert map_wfs.retried(xs=[1, 2, 3], directory=str(tmp_path)) == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seen-1", "seen-2", "seen-3"]


def test_a_batch_whose_worker_died_runs_again(tmp_path: Path) -> None:
    assert map_wfs.survives_a_dead_worker(xs=[1, 2], directory=str(tmp_path)) == [2, 3]
    assert (tmp_path / "died").exists()


def test_each_element_honours_the_task_cache(tmp_path: Path) -> None:
    log = tmp_path / "log"
    compiled = map_wfs.cached.compile()
    assert run(compiled, {"xs": [1, 2], "log": str(log)}).outputs == [-1, -2]
    assert run(compiled, {"xs": [1, 2, 3], "log": str(log)}).outputs == [-1, -2, -3]
    assert sorted(log.read_text().split()) == ["1", "2", "3"]  # 1 and 2 came from the cache


def test_mapped_lists_of_different_lengths_fail() -> None:
    with pytest.raises(NodeFailedError, match="differ in length"):
        map_wfs.mapped_default(xs=[1, 2], offsets=[5])


def test_mapping_over_a_non_list_fails_at_compile_time() -> None:
    @workflow
    def bad(x: int) -> list[int]:
        return map_task(map_wfs.square)(x=x)

    with pytest.raises(BindingError, match=r"input 'x': expected list\[int\], got int"):
        bad.compile()


def test_called_outside_a_workflow_it_runs_in_process() -> None:
    assert map_task(map_wfs.square)(x=[2, 3]) == [4, 9]


def test_a_hundred_thousand_elements_complete() -> None:
    from tests.fixtures import children_wfs

    result = run(children_wfs.huge_map.compile(), {"n": 100_000})
    assert result.outputs == 100_000
    node = result.record.nodes["n1"]
    assert len(node.children) == 100_000
    assert node.children["99999"].phase.value == "SUCCEEDED"
