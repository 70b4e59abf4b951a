"""Helpers of the execution tests: launch over HTTP, wait for a phase, read results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from engine.core.workflow import PythonFunctionWorkflow
from serve.control.launching import DriverTicket
from serve.store.execution_records import ExecutionId
from tests.fixtures import remote_wfs
from tests.fixtures.remote_wfs import runs
from tests.serve.specs import DOMAIN, PROJECT, register_workflow

EXECUTIONS = "/api/v1/executions"
ACTIVE = ("QUEUED", "RUNNING")


def path(name: str) -> str:
    return f"{PROJECT}/{DOMAIN}/{name}"


def launch(client: TestClient, expected: int = 201, **body: Any) -> dict[str, Any]:
    """POST an execution (project and domain filled in); returns the execution."""
    response = client.post(EXECUTIONS, json={"project": PROJECT, "domain": DOMAIN, **body})
    assert response.status_code == expected, response.text
    return dict(response.json())


def launch_workflow(client: TestClient, wf: PythonFunctionWorkflow,
                    **body: Any) -> dict[str, Any]:
    """Register ``wf`` (and its tasks) and launch it by workflow id."""
    ident = register_workflow(client, wf)
    return launch(client, workflow={"name": ident["name"], "version": ident["version"]},
                  **body)


def get(client: TestClient, name: str) -> dict[str, Any]:
    response = client.get(f"{EXECUTIONS}/{path(name)}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for(client: TestClient, name: str, phases: tuple[str, ...] = ("SUCCEEDED",),
             timeout_s: float = 60.0) -> dict[str, Any]:
    """The execution once its phase is one of ``phases``; fails when it ends in another
    or does not get there in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        execution = get(client, name)
        phase = execution["closure"]["phase"]
        if phase in phases:
            return execution
        assert phase in ACTIVE, f"execution {name} ended {phase}, not {phases}: {execution}"
        assert time.monotonic() < deadline, f"execution {name} still {phase}: {execution}"
        time.sleep(0.1)


def wait_until(condition: Any, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def outputs(client: TestClient, name: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/data/executions/{path(name)}")
    assert response.status_code == 200, response.text
    return dict(response.json()["outputs"])


def nodes(client: TestClient, name: str) -> dict[str, dict[str, Any]]:
    """Node executions by node id."""
    response = client.get(f"/api/v1/node_executions/{path(name)}")
    assert response.status_code == 200, response.text
    return {n["id"]["node_id"]: n for n in response.json()["node_executions"]}


def node_phase(client: TestClient, name: str, node_id: str) -> str | None:
    """The node's phase, or None while it has no record yet (its driver writes events in
    batches: a task may be running before its node is recorded)."""
    node = nodes(client, name).get(node_id)
    return None if node is None else str(node["phase"])


class RecordingLauncher:
    """Records the drivers it is asked to start and runs nothing: for tests whose subject
    is not the drivers (their executions stay QUEUED)."""

    def __init__(self) -> None:
        self.launched: list[DriverTicket] = []

    def launch(self, ticket: DriverTicket) -> None:
        self.launched.append(ticket)

    def stop(self, execution: ExecutionId, launch: int, cause: str, timeout_s: float) -> bool:
        return True

    def is_alive(self, execution: ExecutionId, launch: int) -> bool:
        return True

    def kill(self, execution: ExecutionId, launch: int) -> None:
        pass


def launch_resumable(client: TestClient, markers: Path, seconds: float) -> str:
    """Launch ``remote_wfs.resumable`` and return its name once its nap runs and its
    first node's success is recorded (events reach the database in batches: a node whose
    success was not recorded runs again, rightly, so a test that loses the driver must
    wait for it)."""
    name = str(launch_workflow(client, remote_wfs.resumable, inputs={
        "marker_dir": str(markers), "seconds": seconds})["id"]["name"])
    wait_until(lambda: runs(markers, "started") == 1, what="the nap to start")
    wait_until(lambda: node_phase(client, name, "n0") == "SUCCEEDED",
               what="the first node's success to be recorded")
    return name
