"""@eager: async bodies that await tasks; each awaited task runs on Ray."""

from __future__ import annotations

import pytest

from engine import workflow
from engine.errors import NodeFailedError
from tests.fixtures import eager_wfs as wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


@pytest.mark.parametrize(("x", "expected"), [(1, 3), (9, 21)])
def test_awaited_values_are_real_and_drive_python_control_flow(x: int, expected: int) -> None:
    # chain(1) = 2 -> +1 = 3; chain(9) = double(10) = 20 -> +1 = 21
    assert wfs.uses_eager(x=x) == expected


def test_gathered_tasks_all_run() -> None:
    assert wfs.fan.run_function({"n": 4}) == [[0, 2, 4, 6]]


def test_a_failed_task_raises_eager_exception_at_its_await() -> None:
    assert wfs.recovers.run_function({"x": 3}) == [-1]


def test_an_uncaught_failure_fails_the_eager_node() -> None:
    @workflow
    def wf(x: int) -> int:
        return wfs.fails(x=x)

    with pytest.raises(NodeFailedError) as info:
        wf(x=7)
    assert "EagerException" in str(info.value) and "cannot take 7" in str(info.value)
