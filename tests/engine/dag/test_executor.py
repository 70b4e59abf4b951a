"""Running workflows on the shared Ray cluster: parallelism, resources, retries, failures.

Facts are read from the execution record and from files the tasks write; nothing here
asserts on elapsed time.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
from ray import cloudpickle
from ray.experimental import internal_kv

from engine.dag.run.cluster import RayRequest, ray_request
from engine.dag.run.executor import ExecutionResult, run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionPhase, ExecutionRecord, NodePhase, NodeRecord
from engine.dag.run.worker import UNITS_NAMESPACE, unit_from
from engine.dag.spec import ResourceSpec, TaskMetadata
from engine.dag.validate import load_workflow
from engine.errors import ErrorKind, InputValueError, NodeFailedError, ResourceRequestError
from tests.fixtures import basic_wfs, by_value_wfs, runtime_wfs

RUNTIME_FILE = Path(runtime_wfs.__file__)


class RecordKeeper(ExecutionHooks):
    """Keeps the final record, which a failed run does not return."""

    record: ExecutionRecord | None = None

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.record = record


def execute(wf: Any, **inputs: Any) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs))


def execute_failing(wf: Any, **inputs: Any) -> tuple[NodeFailedError, ExecutionRecord]:
    keeper = RecordKeeper()
    with pytest.raises(NodeFailedError) as info:
        run(wf.compile(), wf.bind_inputs((), inputs), hooks=[keeper])
    assert keeper.record is not None
    return info.value, keeper.record


# --- parallelism -----------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_independent_nodes_run_at_the_same_time(tmp_path: Path) -> None:
    # Each node waits until all three have started, so success itself needs parallelism;
    # the recorded attempt intervals must then overlap.
    result = run(
        runtime_wfs.three_at_once_then_collect.compile(), {"directory": str(tmp_path)}
    )

    assert result.outputs == [0, 1, 2]
    attempts = [result.record.nodes[n].attempts for n in ("n0", "n1", "n2")]
    assert all(len(a) == 1 for a in attempts)
    intervals = [(a[0].start, a[0].end) for a in attempts]
    assert all(end is not None and start < end for start, end in intervals)
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
    # The collecting node started only after all three had ended.
    collect = result.record.nodes["n3"].attempts[0]
    assert collect.start >= max(end for _, end in intervals)  # type: ignore[type-var]


# --- resources -------------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_cpu_and_memory_requests_are_what_ray_assigns() -> None:
    assert runtime_wfs.assigned_wf() == {"CPU": 0.5, "memory": float(100 * 2**20)}


@pytest.mark.usefixtures("ray_cluster")
def test_limits_stand_in_for_missing_requests() -> None:
    assert runtime_wfs.assigned_by_limit_wf() == {"CPU": 0.25}


@pytest.mark.usefixtures("ray_cluster")
def test_limits_above_the_machine_are_ceilings_not_requests() -> None:
    assert runtime_wfs.huge_limits_wf() == {"CPU": 1.0}


@pytest.mark.usefixtures("ray_cluster")
def test_gpu_request_gets_a_gpu() -> None:
    result = execute(runtime_wfs.gpu_wf)

    ids, visible = result.outputs
    assert ids != []
    assert visible.split(",") == ids
    assert [str(g) for g in result.record.nodes["n0"].attempts[0].worker["gpu_ids"]] == ids


@pytest.mark.usefixtures("ray_cluster")
def test_cpu_task_gets_no_gpu() -> None:
    result = execute(basic_wfs.divmod_wf, a=7, b=2)

    assert result.record.nodes["n0"].attempts[0].worker["gpu_ids"] == []


@pytest.mark.usefixtures("ray_cluster")
def test_task_environment_is_set_while_it_runs() -> None:
    assert runtime_wfs.env_wf() == "hello from the task"


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(
    ("wf", "task", "asked"),
    [
        (runtime_wfs.too_many_gpus, "tests.fixtures.runtime_wfs.four_gpus", "gpu=4"),
        (runtime_wfs.too_much_memory, "tests.fixtures.runtime_wfs.huge_memory", "mem="),
    ],
    ids=["gpu", "mem"],
)
def test_impossible_request_fails_before_anything_runs(
    tmp_path: Path, wf: Any, task: str, asked: str
) -> None:
    marker = tmp_path / "marker"  # written by the node upstream of the impossible one

    with pytest.raises(ResourceRequestError) as info:
        wf(path=str(marker))
    msg = str(info.value)

    assert f"task '{task}'" in msg
    assert "node 'n1'" in msg
    assert f"workflow '{wf.name}'" in msg
    assert asked in msg
    assert not marker.exists()


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_retry_after_a_user_exception(tmp_path: Path) -> None:
    result = execute(runtime_wfs.flaky, directory=str(tmp_path))

    assert result.outputs == 2  # attempt_number 1 (the first retry), plus one downstream
    first, second = result.record.nodes["n0"].attempts
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.outcome is NodePhase.FAILED
    assert first.error_kind is ErrorKind.USER
    assert first.error is not None
    assert 'raise ValueError("first attempt fails on purpose")' in first.error
    assert second.outcome is NodePhase.SUCCEEDED
    assert second.error_kind is None
    # The downstream node ran once, on the retried value.
    downstream = result.record.nodes["n1"].attempts
    assert [a.outcome for a in downstream] == [NodePhase.SUCCEEDED]
    assert result.record.phase is ExecutionPhase.SUCCEEDED


@pytest.mark.usefixtures("ray_cluster")
def test_retry_after_the_worker_process_dies(tmp_path: Path) -> None:
    result = execute(runtime_wfs.dies_once, directory=str(tmp_path))

    first, second = result.record.nodes["n0"].attempts
    assert first.outcome is NodePhase.FAILED
    assert first.error_kind is ErrorKind.SYSTEM
    assert second.outcome is NodePhase.SUCCEEDED
    dead_pid = int((tmp_path / "died-once").read_text())
    assert result.outputs != dead_pid  # the retry ran in another process
    assert second.worker["pid"] == result.outputs


# --- timeouts and failures -------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_timeout_stops_the_task(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"

    error, record = execute_failing(runtime_wfs.too_slow, heartbeat=str(heartbeat))

    assert error.kind is ErrorKind.USER
    assert "timeout of 1 s" in error.cause
    (attempt,) = record.nodes["n0"].attempts
    assert attempt.outcome is NodePhase.TIMED_OUT
    assert attempt.error_kind is ErrorKind.USER
    assert record.nodes["n0"].phase is NodePhase.TIMED_OUT
    # The task wrote its heartbeat every 0.1 s; once stopped, it writes no more.
    beat = heartbeat.read_text()
    time.sleep(1.5)
    assert heartbeat.read_text() == beat
    assert not Path(f"{heartbeat}.done").exists()


@pytest.mark.usefixtures("ray_cluster")
def test_timeout_kills_a_task_that_ignores_the_timeout_signal(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"

    error, record = execute_failing(runtime_wfs.too_slow_and_deaf, heartbeat=str(heartbeat))

    assert error.kind is ErrorKind.USER
    (attempt,) = record.nodes["n0"].attempts
    assert attempt.outcome is NodePhase.TIMED_OUT
    assert attempt.error is not None
    assert "timeout of 1 s" in attempt.error
    # Its process is gone: the heartbeat thread writes no more.
    beat = heartbeat.read_text()
    time.sleep(1.5)
    assert heartbeat.read_text() == beat
    assert not Path(f"{heartbeat}.done").exists()


@pytest.mark.usefixtures("ray_cluster")
def test_failure_without_retries_names_everything_and_shows_the_user_traceback() -> None:
    error, record = execute_failing(runtime_wfs.fails, n=1)

    assert error.workflow == "tests.fixtures.runtime_wfs.fails"
    assert error.node_id == "n1"
    assert error.task == "tests.fixtures.runtime_wfs.explode"
    assert error.attempts == 1
    assert error.kind is ErrorKind.USER
    raising = next(
        line.strip() for line in RUNTIME_FILE.read_text().splitlines() if "# RAISING LINE" in line
    )
    message = str(error)
    for text in (error.workflow, "node 'n1'", error.task, "1 attempt", "USER",
                 raising, "ZeroDivisionError: cannot split 2 ways", f"{RUNTIME_FILE}"):
        assert text in message
    assert raising in error.cause
    for internal in ("engine/dag", "engine/core", "execute_node", "AttemptError",
                     "RayTaskError", "ray/_private", "_raylet"):
        assert internal not in message
    phases = {n: r.phase for n, r in record.nodes.items()}
    assert phases == {
        "n0": NodePhase.SUCCEEDED, "n1": NodePhase.FAILED, "n2": NodePhase.SKIPPED,
    }
    assert record.phase is ExecutionPhase.FAILED
    assert record.error_kind is ErrorKind.USER


@pytest.mark.usefixtures("ray_cluster")
def test_node_failed_error_survives_pickling() -> None:
    error, _ = execute_failing(runtime_wfs.fails, n=1)
    copy = pickle.loads(pickle.dumps(error))

    assert (copy.workflow, copy.node_id, copy.task, copy.attempts, copy.kind, copy.cause) == (
        error.workflow, error.node_id, error.task, error.attempts, error.kind, error.cause
    )
    assert str(copy) == str(error)


# --- what attempts share -----------------------------------------------------------------------


def published(execution: str) -> list[bytes]:
    """The keys of the node units ``execution`` has published in Ray's key-value store."""
    return internal_kv._internal_kv_list(f"{execution}/", namespace=UNITS_NAMESPACE)


class UnitWatcher(RecordKeeper):
    """Notes the units published while nodes run (their phase changes after submission)."""

    seen: set[bytes]

    def __init__(self) -> None:
        self.seen = set()

    def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
        self.seen.update(published(record.name))


@pytest.mark.usefixtures("ray_cluster")
def test_units_are_published_while_the_execution_runs_and_withdrawn_at_its_end() -> None:
    watcher = UnitWatcher()
    result = run(basic_wfs.chain.compile(), {"n": 1}, hooks=[watcher])

    assert result.outputs == 4
    # The three nodes run one task: one unit, published once for all their attempts.
    assert watcher.seen == {f"{result.record.name}/unit/tests.fixtures.basic_wfs.add".encode()}
    assert published(result.record.name) == []

    failing = UnitWatcher()
    with pytest.raises(NodeFailedError):
        run(runtime_wfs.fails.compile(), {"n": 1}, hooks=[failing])
    assert failing.record is not None and failing.seen
    assert published(failing.record.name) == []


@pytest.mark.usefixtures("ray_cluster")
def test_an_attempt_whose_unit_was_withdrawn_says_its_execution_ended() -> None:
    with pytest.raises(RuntimeError, match="node unit 'f0/unit/t' is not published .*"
                                           "the execution that submitted this attempt has ended"):
        unit_from("f0/unit/t")


# --- values between tasks --------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_dataclasses_enums_lists_and_dicts_flow_between_tasks() -> None:
    out = basic_wfs.shapes(name="sq")

    assert out.o0 == "sq:3"
    assert out.o1 is basic_wfs.Color.GREEN  # from the default input Color.RED
    assert out.o2 == [0.0, 3.0, 6.0]
    assert out.o3 == {"a": 2, "b": 0, "n": 3}


@pytest.mark.usefixtures("ray_cluster")
def test_dataclasses_flow_when_their_module_is_pickled_by_value() -> None:
    # `flyray run FILE` registers the user's package for pickling by value, so that
    # workers need not import it; its dataclasses must still type-check in the worker.
    cloudpickle.register_pickle_by_value(by_value_wfs)
    try:
        assert by_value_wfs.metres(value=1.5) == 1500.0
    finally:
        cloudpickle.unregister_pickle_by_value(by_value_wfs)


@pytest.mark.usefixtures("ray_cluster")
def test_lists_and_dicts_of_promises_and_constants_are_assembled() -> None:
    assert basic_wfs.mixed_list(n=4) == 4 + 5 + 2 + 4
    assert basic_wfs.mixed_dict_sum(n=4) == 4 + 3 + 4
    assert basic_wfs.mixed_dict(n=4) == ["zz", "aa", "mm"]  # the order written in the workflow


@pytest.mark.usefixtures("ray_cluster")
def test_loop_over_constants_runs_the_chain() -> None:
    result = execute(basic_wfs.chain, n=10)

    assert result.outputs == 10 + 0 + 1 + 2
    assert all(r.phase is NodePhase.SUCCEEDED for r in result.record.nodes.values())


@pytest.mark.usefixtures("ray_cluster")
def test_unnamed_tuple_outputs_come_back_as_default_named_tuple() -> None:
    out = basic_wfs.divmod_wf(a=7, b=2)

    assert type(out).__name__ == "DefaultNamedTupleOutput"
    assert out._fields == ("o0", "o1")
    assert (out.o0, out.o1) == (3, 1)
    assert repr(out) == "DefaultNamedTupleOutput(o0=3, o1=1)"


@pytest.mark.usefixtures("ray_cluster")
def test_named_tuple_outputs_come_back_as_the_users_named_tuple() -> None:
    out = basic_wfs.stats_wf(xs=[1.0, 2.0, 6.0])

    assert type(out) is basic_wfs.Stats
    assert out == basic_wfs.Stats(mean=3.0, count=3)


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(
    ("wf", "inputs", "expected"),
    [
        (basic_wfs.stats_wf, {"xs": [1.0, 2.0]}, basic_wfs.Stats(mean=1.5, count=2)),
        (basic_wfs.mixed_dict, {"n": 4}, ["zz", "aa", "mm"]),
    ],
    ids=["named-tuple", "dict-order"],
)
def test_a_spec_reloaded_from_json_runs_like_the_original(
    wf: Any, inputs: dict[str, Any], expected: Any
) -> None:
    compiled = wf.compile()
    reloaded = dataclasses.replace(compiled, spec=load_workflow(compiled.spec.to_json()))
    bound = wf.bind_inputs((), inputs)

    assert run(compiled, bound).outputs == expected
    assert run(reloaded, bound).outputs == expected


# --- outside workflows, and before running ----------------------------------------------------


def test_task_called_outside_a_workflow_runs_in_process() -> None:
    assert basic_wfs.pid() == os.getpid()
    assert basic_wfs.add(a=2, b=3) == 5
    assert basic_wfs.divmod_task(a=7, b=2) == (3, 1)


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(
    ("inputs", "needle"),
    [
        ({"n": "x"}, "input 'n': expected int, got str 'x'"),
        ({"n": True}, "input 'n': expected int, got bool True"),
        ({}, "missing input(s) n"),
        ({"n": 1, "m": 2}, "unknown input 'm'"),
    ],
    ids=["str", "bool", "missing", "unknown"],
)
def test_bad_workflow_inputs_fail_before_anything_runs(
    tmp_path: Path, inputs: dict[str, Any], needle: str
) -> None:
    marker = tmp_path / "marker"

    with pytest.raises(InputValueError) as info:
        basic_wfs.touch_wf(path=str(marker), **inputs)

    assert "workflow 'tests.fixtures.basic_wfs.touch_wf'" in str(info.value)
    assert needle in str(info.value)
    assert not marker.exists()


@pytest.mark.usefixtures("ray_cluster")
def test_good_workflow_inputs_run(tmp_path: Path) -> None:
    # The counterpart of the test above: the same workflow does write its marker.
    marker = tmp_path / "marker"

    assert basic_wfs.touch_wf(path=str(marker), n=3) == 3
    assert marker.read_text() == "3"


@pytest.mark.parametrize(("requests", "limits", "expected"), [
    (ResourceSpec(), ResourceSpec(), RayRequest(1.0, 0.0, None)),
    (ResourceSpec(cpu=2.0, mem=1 << 30), ResourceSpec(cpu=4.0), RayRequest(2.0, 0.0, 1 << 30)),
    (ResourceSpec(), ResourceSpec(cpu=0.5, mem=1 << 40), RayRequest(0.5, 0.0, None)),
    (ResourceSpec(), ResourceSpec(cpu=64.0, gpu=2.0), RayRequest(1.0, 2.0, None)),
    (ResourceSpec(gpu=1.0), ResourceSpec(gpu=2.0), RayRequest(1.0, 1.0, None)),
])
def test_requests_come_first_and_limits_only_cap_the_default(
        requests: ResourceSpec, limits: ResourceSpec, expected: RayRequest) -> None:
    assert ray_request(TaskMetadata(requests=requests, limits=limits)) == expected
