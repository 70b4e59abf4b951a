"""FlyteRemote runs real executions on the admin API (Serve on the shared Ray cluster):
local and fetched entities, typed inputs and outputs (dataframes and files through the
blob store), node executions, failures, waiting with a timeout, terminate, relaunch,
recover and idempotent names."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pandas as pd
import pytest

from engine.dag.run.state import NodePhase
from engine.errors import (
    ErrorKind,
    InputValueError,
    OutputsUnavailableError,
    WaitTimeoutError,
)
from engine.remote import FlyteRemote, FlyteWorkflowExecution, WorkflowExecutionPhase
from engine.types import FlyteFile
from tests.engine.remote.conftest import Admin, Package

pytestmark = pytest.mark.timeout(240)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_local_workflow_runs_and_its_dataframe_comes_back(
        remote: FlyteRemote, package: Package) -> None:
    execution = remote.execute(package.workflows.frames, {"n": 4}, wait=True,
                               poll_interval=0.2)
    assert execution.is_done and execution.is_successful, execution.error
    assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED == "SUCCEEDED"
    expected = pd.DataFrame({"i": [0, 1, 2, 3], "square": [0, 1, 4, 9]})
    pd.testing.assert_frame_equal(execution.outputs["o0"], expected)
    assert execution.outputs["o1"] == 14
    assert execution.outputs.as_python_native(
        package.workflows.frames.python_interface).o1 == 14
    assert execution.inputs["n"] == 4

    nodes = execution.node_executions
    assert {n.closure.phase for n in nodes.values()} == {NodePhase.SUCCEEDED}
    assert {n.task for n in nodes.values()} == {f"{package.name}.tasks.make_frame",
                                               f"{package.name}.tasks.total"}
    made = next(n for n in nodes.values() if n.task.endswith("make_frame"))
    assert [a.attempt for a in made.attempts] == [1] and made.attempts[0].error is None
    assert made.inputs["n"] == 4
    pd.testing.assert_frame_equal(made.outputs["o0"], expected)

    # Fetched by name from a fresh client: the types are guessed from the registration.
    again = FlyteRemote(remote.config).fetch_execution(name=execution.id.name)
    pd.testing.assert_frame_equal(again.outputs["o0"], expected)
    assert again.node_executions == {}
    synced = remote.sync(again, sync_nodes=True)
    assert synced is again and set(again.node_executions) == set(nodes)


def test_a_fetched_launch_plan_runs_once_per_execution_name(
        remote: FlyteRemote, package: Package) -> None:
    remote.register_launch_plan(package.workflows.plus_ten, version="run1")
    plan = remote.fetch_launch_plan(name=package.workflows.plus_ten.name)
    with pytest.raises(InputValueError, match="input 'b' is fixed by the launch plan"):
        remote.execute(plan, {"a": 1, "b": 2})
    with pytest.raises(InputValueError, match="input 'a': expected int, got str"):
        remote.execute(plan, {"a": "one"})
    with pytest.raises(InputValueError, match="missing input"):
        remote.execute(plan, {})

    name = unique("plus")
    first = remote.execute(plan, {"a": 5}, execution_name=name)
    retried = remote.execute(plan, {"a": 5}, execution_name=name)
    assert first.id == retried.id
    done = remote.wait(first, timeout=200, poll_interval=0.2)
    assert done is first and first.outputs["o0"] == 15
    assert first.inputs["a"] == 5 and first.inputs["b"] == 10
    assert first.spec.launch_plan is not None and first.spec.launch_plan.version == "run1"

    listed = remote.recent_executions(launch_plan=plan.name, phase="SUCCEEDED")
    assert name in {e.id.name for e in listed}
    assert remote.recent_executions(launch_plan=plan.name, phase=["FAILED"]) == []

    relaunched = remote.relaunch(first)
    assert relaunched.id != first.id and relaunched.spec.relaunched_from == first.id
    # The local launch plan, at the version registered above (registered again: unchanged).
    local = remote.execute(package.workflows.plus_ten, {"a": 2}, version="run1",
                           overwrite_cache=True, timeout=dt.timedelta(minutes=5))
    assert local.spec.overwrite_cache and local.spec.timeout == 300
    for execution in (relaunched, local):
        remote.wait(execution, poll_interval=0.2)
    assert relaunched.outputs["o0"] == 15 and local.outputs["o0"] == 12


def test_a_failing_execution_says_why_and_has_no_outputs(
        remote: FlyteRemote, package: Package) -> None:
    execution = remote.execute(package.workflows.failing, {"n": 1}, wait=True,
                               poll_interval=0.2)
    assert execution.is_done and not execution.is_successful
    assert execution.closure.phase == "FAILED"
    assert execution.error is not None and execution.error.kind is ErrorKind.USER
    assert "ValueError: n=1 is not welcome here" in execution.error.message
    with pytest.raises(OutputsUnavailableError, match=r"is FAILED, so it has no outputs; it "
                       r"ended with a USER error"):
        _ = execution.outputs
    (node,) = execution.node_executions.values()
    assert node.closure.phase is NodePhase.FAILED and not node.is_successful
    assert node.error is not None and "n=1 is not welcome here" in node.error.message
    with pytest.raises(OutputsUnavailableError, match="it has outputs once it SUCCEEDED"):
        _ = node.outputs

    recovered = remote.recover(execution)
    assert recovered.spec.mode == "RECOVER" and recovered.spec.recovered_from == execution.id
    assert remote.wait(recovered, poll_interval=0.2).closure.phase == "FAILED"


def test_wait_gives_up_at_its_timeout_and_terminate_stops_the_execution(
        remote: FlyteRemote, package: Package) -> None:
    execution = remote.execute(package.workflows.sleepy, {"seconds": 600.0})
    assert not execution.is_done
    with pytest.raises(WaitTimeoutError, match=rf"execution {execution.id} is still "
                       r"(QUEUED|RUNNING) after waiting 0.5 s"):
        remote.wait(execution, timeout=0.5, poll_interval=0.1)
    stopped = remote.terminate(execution, "enough sleep")
    assert stopped is execution
    remote.wait(execution, poll_interval=0.2)
    assert execution.closure.phase == "ABORTED"
    assert execution.closure.abort_cause == "enough sleep"
    with pytest.raises(OutputsUnavailableError, match="it ended: enough sleep"):
        _ = execution.outputs


def test_files_and_dataframes_go_in_through_the_blob_store(
        remote: FlyteRemote, admin: Admin, package: Package, tmp_path: Path) -> None:
    text = tmp_path / "quiet.txt"
    text.write_text("hello remote")
    loud = remote.execute(package.tasks.shout, {"text": FlyteFile(str(text))})
    # A fetched task: its input type (a dataframe) is guessed from the registration.
    remote.register_task(package.tasks.total, version="files1")
    total = remote.fetch_task(name=f"{package.name}.tasks.total")
    frame = pd.DataFrame({"square": [1, 4, 9]})
    summed = remote.execute(total, {"df": frame})
    for execution in (loud, summed):
        remote.wait(execution, poll_interval=0.2)
        assert execution.is_successful, execution.error
    out = loud.outputs["o0"]
    assert isinstance(out, FlyteFile) and out.remote_source is not None
    assert out.remote_source.startswith(remote.config.data_config.blob_root)
    with open(out) as f:  # downloaded on first use
        assert f.read() == "HELLO REMOTE"
    assert str(loud.inputs["text"].remote_source).startswith(admin.config.data_config.blob_root)
    assert summed.outputs["o0"] == 14
    assert remote.generate_console_url(summed) == (
        f"{admin.endpoint}/console/projects/flytesnacks/domains/development/executions/"
        f"{summed.id.name}")


def test_an_execution_by_name_can_be_terminated_and_listed(remote: FlyteRemote,
                                                          package: Package) -> None:
    name = unique("nap")
    execution = remote.execute(package.workflows.sleepy, {"seconds": 600.0},
                               execution_name_prefix="nap", execution_name=name)
    assert isinstance(execution, FlyteWorkflowExecution) and execution.id.name == name
    stopped = remote.terminate(name, "not needed")
    assert stopped.id == execution.id
    assert remote.wait(stopped, poll_interval=0.2).closure.phase == "ABORTED"
    assert name in {e.id.name for e in remote.recent_executions(phase="ABORTED")}
