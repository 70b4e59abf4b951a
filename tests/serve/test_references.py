"""``reference_task`` and ``reference_launch_plan`` nodes run their registered entity on a
real admin API (uvicorn on a free port of 127.0.0.1, executions on the shared cluster):
values flow downstream, the child execution is recorded, and an unregistered entity, a
stub with another interface, a failing entity and a timeout each fail the node clearly.

How the workers find the admin API: this process's settings (FLYRAY_ADMIN_ENDPOINT, set
with monkeypatch before each run) are read when the run starts and travel to every node
with its NodeServices, so workers of the shared cluster, started long before, need no
environment of their own.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.config import load_settings
from engine.core.workflow import PythonFunctionWorkflow
from engine.dag.run.executor import ExecutionResult, run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord, NodePhase, NodeRecord
from engine.errors import ErrorKind, NodeFailedError
from engine.types import FlyteFile
from serve.control.launcher import RayLauncher
from tests.engine.cli.conftest import start_admin
from tests.fixtures import reference_wfs as wfs
from tests.serve.conftest import FAST
from tests.serve.remote import get, launch, nodes, outputs, wait_for
from tests.serve.specs import body_of, error_of, launch_plan_body, register_workflow

# Larger outputs are offloaded to the blob store: the 'repeat' reference's is.
OFFLOAD_THRESHOLD = 64


@pytest.fixture
def admin(tmp_path: Path, launcher: RayLauncher,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """A client of a real admin API that runs executions, with the fixtures' entities
    registered at wfs.VERSION; this process's runs use it. It shares this process's blob
    store, so files this process uploads are valid inputs of its executions."""
    with start_admin(tmp_path, launcher=launcher, liveness=FAST,
                     blob_root=load_settings().blob_root_uri,
                     offload_threshold=OFFLOAD_THRESHOLD) as server:
        monkeypatch.setenv("FLYRAY_ADMIN_ENDPOINT", server.endpoint)
        with httpx.Client(base_url=server.endpoint, trust_env=False, timeout=30) as client:
            for task in (wfs.count_words, wfs.repeat, wfs.file_size, wfs.explode, wfs.nap):
                spec = copy.deepcopy(task.spec().to_dict())
                spec["id"]["version"] = wfs.VERSION
                response = client.post("/api/v1/tasks", json=body_of(spec))
                assert response.status_code == 201, response.text
            workflow_id = register_workflow(client, wfs.greeter)
            plan = launch_plan_body(workflow_id, wfs.FORMAL_PLAN, wfs.VERSION,
                                    fixed_inputs={"greeting": wfs.FORMAL_GREETING})
            response = client.post("/api/v1/launch_plans", json=plan)
            assert response.status_code == 201, response.text
            yield client


class _Record(ExecutionHooks):
    """Keeps the execution's record, however it ends."""

    record: ExecutionRecord | None = None

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.record = record


def run_locally(wf: PythonFunctionWorkflow, **inputs: Any) -> tuple[Any, ExecutionRecord]:
    """Run ``wf`` on the shared cluster; its outputs and record."""
    hook = _Record()
    result: ExecutionResult = run(wf.compile(), wf.bind_inputs((), inputs), hooks=[hook])
    assert hook.record is not None
    return result.outputs, hook.record


def run_failing(wf: PythonFunctionWorkflow, **inputs: Any
                ) -> tuple[NodeFailedError, ExecutionRecord]:
    hook = _Record()
    with pytest.raises(NodeFailedError) as info:
        run(wf.compile(), wf.bind_inputs((), inputs), hooks=[hook])
    assert hook.record is not None
    return info.value, hook.record


def node_of(record: ExecutionRecord, task: str) -> NodeRecord:
    [node] = [n for n in record.nodes.values() if n.task == f"{wfs.__name__}.{task}"]
    return node


def test_reference_tasks_run_on_the_admin_and_their_values_flow_downstream(
        admin: httpx.Client, tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 1234)
    values, record = run_locally(wfs.counts, text="a b c", f=FlyteFile(str(data)))
    assert tuple(values) == (6, 250, 1234)
    for task, inputs in (("count_words", {"text": "a b c"}),
                         ("repeat", {"text": "a b c", "times": 50})):
        node = node_of(record, task)
        assert node.phase is NodePhase.SUCCEEDED and node.child_execution
        child = get(admin, node.child_execution)
        assert child["closure"]["phase"] == "SUCCEEDED"
        assert child["spec"]["task"]["name"] == f"{wfs.__name__}.{task}"
        assert child["spec"]["task"]["version"] == wfs.VERSION
        assert child["spec"]["inputs"] == inputs
    long = admin.get(f"/api/v1/data/executions/{wfs.PROJECT}/{wfs.DOMAIN}/"
                     f"{node_of(record, 'repeat').child_execution}").json()
    assert long["offloaded"] == ["outputs.o0"]  # read back from the blob store
    sized = get(admin, str(node_of(record, "file_size").child_execution))
    uri = sized["spec"]["inputs"]["f"]
    assert uri.startswith(load_settings().blob_root_uri + "/")  # the uploaded file's URI


def test_a_reference_launch_plan_runs_the_registered_plan(admin: httpx.Client) -> None:
    shouted, record = run_locally(wfs.formal_shout, name="Ada")
    assert shouted == "GOOD EVENING, ADA!"  # the plan's fixed greeting, then shout
    node = node_of(record, "formal")
    child = get(admin, str(node.child_execution))
    assert child["closure"]["phase"] == "SUCCEEDED"
    assert child["spec"]["launch_plan"]["name"] == wfs.FORMAL_PLAN
    assert child["spec"]["inputs"] == {"name": "Ada", "greeting": wfs.FORMAL_GREETING}


def test_a_remote_execution_runs_its_reference_nodes_through_the_same_admin(
        admin: httpx.Client) -> None:
    ident = register_workflow(admin, wfs.counts_twice)
    created = launch(admin, workflow={"name": ident["name"], "version": ident["version"]},
                     inputs={"text": "a b c d"})
    name = created["id"]["name"]
    wait_for(admin, name, timeout_s=90)
    assert outputs(admin, name) == {"o0": 8}
    child = nodes(admin, name)["n0"]["child_execution"]
    assert get(admin, child)["closure"]["phase"] == "SUCCEEDED"


def test_an_unregistered_reference_fails_its_node_saying_so(admin: httpx.Client) -> None:
    error, record = run_failing(wfs.uses_unregistered, text="a")
    assert error.kind is ErrorKind.USER and error.node_id == "n0"
    assert (f"has no task {wfs.PROJECT}/{wfs.DOMAIN}/{wfs.__name__}.count_words at "
            "version v0: it is not registered") in error.cause
    assert "register it there ('flyray register'" in error.cause
    assert str(admin.base_url).rstrip("/") in error.cause
    assert record.nodes["n0"].child_execution is None  # nothing was launched


def test_a_stub_with_another_interface_fails_naming_each_difference(
        admin: httpx.Client) -> None:
    error, _ = run_failing(wfs.uses_mismatched, n=3)
    assert error.kind is ErrorKind.USER
    assert "the stub's interface is not the registered task's" in error.cause
    assert "input 'text' is int in the stub but str in the registered task" in error.cause
    assert "output 'o0' is str in the stub but int in the registered task" in error.cause


def test_a_failing_referenced_task_fails_the_node_with_its_error(admin: httpx.Client) -> None:
    error, record = run_failing(wfs.uses_explode, text="boom")
    child = record.nodes["n0"].child_execution
    assert child is not None
    assert error.kind is ErrorKind.USER and error.node_id == "n0"
    assert f"its execution {wfs.PROJECT}/{wfs.DOMAIN}/{child} ended FAILED" in error.cause
    assert "ValueError: cannot count the words of 'boom'" in error.cause
    assert record.nodes["n1"].phase is NodePhase.SKIPPED  # nothing downstream ran
    assert get(admin, child)["closure"]["phase"] == "FAILED"


def test_a_reference_node_past_its_timeout_stops_its_execution(admin: httpx.Client) -> None:
    error, record = run_failing(wfs.naps_too_long, seconds=60.0)
    node = record.nodes["n0"]
    assert node.phase is NodePhase.TIMED_OUT and "timeout of 1 s" in error.cause
    assert node.child_execution is not None
    aborted = wait_for(admin, node.child_execution, ("ABORTED",), timeout_s=60)
    assert "was stopped" in aborted["closure"]["abort_cause"]


def test_registering_a_workflow_checks_its_references_and_leaves_the_stubs_out(
        admin: httpx.Client) -> None:
    ident = register_workflow(admin, wfs.counts_twice)
    registered = admin.get(f"/api/v1/workflows/{ident['project']}/{ident['domain']}/"
                           f"{ident['name']}/{ident['version']}").json()
    [stub] = [t for t in registered["spec"]["tasks"].values() if t.get("reference")]
    assert stub["reference"]["version"] == wfs.VERSION
    # The stub is code of the workflow, not a task: only the real versions are listed.
    listed = admin.get(f"/api/v1/tasks/{wfs.PROJECT}/{wfs.DOMAIN}/"
                       f"{wfs.__name__}.count_words").json()
    assert [t["id"]["version"] for t in listed["tasks"]] == [wfs.VERSION]
    refused = error_of(admin.post("/api/v1/tasks", json=body_of(stub)), 400)
    assert "stubs are not registered" in refused["message"]
    # A reference to what is not registered is refused when the workflow is registered.
    spec = wfs.uses_unregistered.compile().spec.to_dict()
    message = error_of(admin.post("/api/v1/workflows", json=body_of(spec)), 400)["message"]
    assert f"refers to task {wfs.PROJECT}/{wfs.DOMAIN}/{wfs.__name__}.count_words" in message
    assert "v0" in message and "which is not registered; register it first" in message
