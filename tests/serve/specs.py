"""Request bodies built from real workflows of ``tests.fixtures`` (never hand-written),
and small helpers to register them through the API."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from engine.core.workflow import PythonFunctionWorkflow
from engine.dag.spec import TaskSpec

PROJECT, DOMAIN = "flytesnacks", "development"


def task_body(task: Any) -> dict[str, Any]:
    """The registration body of a task object (``@task``), from its own spec."""
    spec = task.spec().to_dict()
    return {"id": spec["id"], "spec": spec}


def workflow_spec(wf: PythonFunctionWorkflow) -> dict[str, Any]:
    return wf.compile().spec.to_dict()


def workflow_body(wf: PythonFunctionWorkflow) -> dict[str, Any]:
    spec = workflow_spec(wf)
    return {"id": spec["id"], "spec": spec}


def body_of(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    return {"id": spec["id"], "spec": spec}


def closure_tasks(wf: PythonFunctionWorkflow) -> list[TaskSpec]:
    return [t for t in wf.compile().spec.tasks.values()
            if t.id.resource_type.value == "task" and t.reference is None]


def register_tasks_of(client: TestClient, wf: PythonFunctionWorkflow) -> None:
    for task in closure_tasks(wf):
        response = client.post("/api/v1/tasks", json=body_of(task.to_dict()))
        assert response.status_code in (200, 201), response.text


def register_workflow(client: TestClient, wf: PythonFunctionWorkflow) -> dict[str, Any]:
    """Registers the workflow's tasks, then the workflow; returns the workflow's id."""
    register_tasks_of(client, wf)
    body = workflow_body(wf)
    response = client.post("/api/v1/workflows", json=body)
    assert response.status_code in (200, 201), response.text
    return dict(body["id"])


def path_of(ident: dict[str, Any]) -> str:
    return f"{ident['project']}/{ident['domain']}/{ident['name']}/{ident['version']}"


def launch_plan_body(workflow_id: dict[str, Any], name: str, version: str = "v1",
                     **spec: Any) -> dict[str, Any]:
    ident = {**workflow_id, "resource_type": "launch_plan", "name": name, "version": version}
    return {"id": ident, "spec": {"id": ident, "workflow_id": workflow_id, **spec}}


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error body of a response that must have ``status``; every error has this shape."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"kind", "message"} and error["message"], error
    return dict(error)
