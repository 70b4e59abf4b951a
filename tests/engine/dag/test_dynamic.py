"""@dynamic: the body runs on a worker with real values and its sub-DAG runs on Ray."""

from __future__ import annotations

import pytest

from engine.core.dynamic import DynamicTask
from tests.fixtures import dynamic_wfs as wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_loops_and_ifs_on_real_values_build_the_sub_dag() -> None:
    # squares_up_to(4) = 0+1+4+9 = 14; pick(4) = 16
    assert wfs.outer(n=4) == 30
    # pick(3) takes the other branch: 3 + 3
    assert wfs.outer(n=3) == 5 + 6


def test_the_sub_dag_runs_in_parallel() -> None:
    intervals = wfs.naps.run_function({"k": 3})[0]
    assert len(intervals) == 3
    # The recorded [start, end] of the three naps overlap.
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)


def test_dataframes_pass_into_a_dynamic_body_as_they_are() -> None:
    assert wfs.frames(n=25) == 25


def test_a_dynamic_task_asks_for_no_cpu_by_default() -> None:
    assert isinstance(wfs.pick, DynamicTask)
    assert wfs.pick.spec().metadata.requests.cpu == 0.0
