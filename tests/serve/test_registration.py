"""Registering tasks and workflows through the API: immutability, the checks of a workflow
against what is registered, the default launch plan. Over SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json

from fastapi.testclient import TestClient

from tests.fixtures import basic_wfs, launch_plan_wfs, subworkflow_wfs
from tests.serve.specs import (
    body_of,
    error_of,
    path_of,
    register_tasks_of,
    register_workflow,
    task_body,
    workflow_body,
)


def test_register_task_then_get_it(client: TestClient) -> None:
    body = task_body(basic_wfs.add)
    response = client.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["id"] == body["id"]
    assert response.json()["spec"] == body["spec"]

    got = client.get(f"/api/v1/tasks/{path_of(body['id'])}")
    assert got.status_code == 200
    assert got.json()["spec"] == body["spec"]
    # Key order is part of the spec (inputs keep declaration order) and survives storage.
    assert json.dumps(got.json()["spec"]) == json.dumps(body["spec"])
    assert got.json()["code_uri"] is None


def test_reregistering_an_identical_task_is_a_no_op(client: TestClient) -> None:
    body = task_body(basic_wfs.add)
    first = client.post("/api/v1/tasks", json=body)
    again = client.post("/api/v1/tasks", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created_at"] == first.json()["created_at"]
    listed = client.get("/api/v1/tasks/flytesnacks/development").json()["tasks"]
    assert len(listed) == 1


def test_another_spec_under_a_registered_id_is_a_conflict_naming_the_path(
        client: TestClient) -> None:
    body = task_body(basic_wfs.add)
    assert client.post("/api/v1/tasks", json=body).status_code == 201
    changed = copy.deepcopy(body)
    changed["spec"]["interface"]["inputs"][0]["type"] = {"kind": "simple", "simple": "float"}
    changed["spec"]["metadata"]["retries"] = 3

    error = error_of(client.post("/api/v1/tasks", json=changed), 409)
    assert error["kind"] == "ALREADY_EXISTS"
    assert error["paths"] == ["interface.inputs[0].type.simple", "metadata.retries"]
    assert "interface.inputs[0].type.simple" in error["message"]
    assert "new version" in error["message"]
    # The registered spec is unchanged.
    got = client.get(f"/api/v1/tasks/{path_of(body['id'])}").json()
    assert got["spec"] == body["spec"]


def test_the_id_of_the_request_must_be_the_specs_own(client: TestClient) -> None:
    body = task_body(basic_wfs.add)
    body["id"] = {**body["id"], "version": "other"}
    error = error_of(client.post("/api/v1/tasks", json=body), 400)
    assert "differs from the spec's own id" in error["message"]


def test_a_workflow_id_cannot_be_registered_as_a_task(client: TestClient) -> None:
    body = workflow_body(basic_wfs.chain)
    error = error_of(client.post("/api/v1/tasks", json=body), 400)
    assert "resource_type" in error["message"] and "'task'" in error["message"]


def test_register_workflow_after_its_tasks(client: TestClient) -> None:
    wf_id = register_workflow(client, basic_wfs.chain)
    got = client.get(f"/api/v1/workflows/{path_of(wf_id)}")
    assert got.status_code == 200
    assert got.json()["spec"] == workflow_body(basic_wfs.chain)["spec"]


def test_workflow_registration_creates_its_default_launch_plan(client: TestClient) -> None:
    wf_id = register_workflow(client, basic_wfs.chain)
    plan = client.get(f"/api/v1/launch_plans/{path_of(wf_id)}")
    assert plan.status_code == 200, plan.text
    spec = plan.json()["spec"]
    assert spec["id"] == {**wf_id, "resource_type": "launch_plan"}
    assert spec["workflow_id"] == wf_id
    assert (spec["default_inputs"], spec["fixed_inputs"], spec["schedule"]) == ({}, {}, None)
    assert plan.json()["state"] == "INACTIVE"


def test_workflow_with_an_unregistered_task_is_refused_naming_it(client: TestClient) -> None:
    # Register one of the two tasks of the workflow only.
    client.post("/api/v1/tasks", json=task_body(subworkflow_wfs.add)).raise_for_status()
    error = error_of(client.post("/api/v1/workflows",
                                 json=workflow_body(subworkflow_wfs.outer)), 400)
    assert "tests.fixtures.subworkflow_wfs.describe" in error["message"]
    assert "not registered" in error["message"]
    assert client.get("/api/v1/workflows/flytesnacks/development").json()["workflows"] == []


def test_workflow_compiled_against_another_task_version_is_refused(client: TestClient) -> None:
    register_tasks_of(client, basic_wfs.chain)
    body = workflow_body(basic_wfs.chain)
    task = body["spec"]["tasks"]["tests.fixtures.basic_wfs.add"]
    task["id"]["version"] = "not-registered"
    error = error_of(client.post("/api/v1/workflows", json=body), 400)
    assert "not-registered" in error["message"] and "not registered" in error["message"]


def test_workflow_whose_copy_of_a_task_differs_from_the_registered_one_is_refused(
        client: TestClient) -> None:
    register_tasks_of(client, basic_wfs.chain)
    body = workflow_body(basic_wfs.chain)
    body["spec"]["tasks"]["tests.fixtures.basic_wfs.add"]["metadata"]["retries"] = 5
    error = error_of(client.post("/api/v1/workflows", json=body), 400)
    assert "metadata.retries" in error["message"]


def test_workflow_with_a_mistyped_binding_is_refused_with_the_reason(client: TestClient) -> None:
    register_tasks_of(client, basic_wfs.chain)
    body = workflow_body(basic_wfs.chain)
    body["spec"]["nodes"][0]["inputs"]["b"] = {"const": "zero"}
    error = error_of(client.post("/api/v1/workflows", json=body), 400)
    assert "input 'b' of node 'n0'" in error["message"]
    assert "expected int" in error["message"]


def test_workflow_binding_an_input_of_another_type_is_refused(client: TestClient) -> None:
    register_tasks_of(client, basic_wfs.chain)
    body = workflow_body(basic_wfs.chain)
    body["spec"]["interface"]["inputs"][0] = {
        "name": "n", "type": {"kind": "simple", "simple": "string"}, "default": "1"}
    error = error_of(client.post("/api/v1/workflows", json=body), 400)
    assert "expected int, got str from workflow input 'n'" in error["message"]


def test_registering_into_an_unknown_project_or_domain_says_which(client: TestClient) -> None:
    body = task_body(basic_wfs.add)
    for field, value, expected in (("project", "nowhere", "project 'nowhere' does not exist"),
                                   ("domain", "qa", "has no domain 'qa'")):
        changed = copy.deepcopy(body)
        changed["id"][field] = value
        changed["spec"]["id"][field] = value
        error = error_of(client.post("/api/v1/tasks", json=changed), 400)
        assert expected in error["message"]


def test_launch_plan_nodes_need_their_launch_plan_registered(client: TestClient) -> None:
    register_tasks_of(client, launch_plan_wfs.two_greetings)
    error = error_of(client.post("/api/v1/workflows",
                                 json=workflow_body(launch_plan_wfs.two_greetings)), 400)
    assert "launch plan flytesnacks/development/formal_greeter@" in error["message"]


def test_malformed_specs_are_refused_with_a_reason(client: TestClient) -> None:
    task = task_body(basic_wfs.add)["spec"]
    wf = workflow_body(basic_wfs.chain)["spec"]
    broken_tasks = [
        {k: v for k, v in task.items() if k != "interface"},
        {**task, "interface": []},
        {**task, "metadata": {**task["metadata"], "environment": ["A=1"]}},
        {**task, "interface": {"inputs": [{"name": "a", "type": {"kind": "list"}}],
                               "outputs": []}},
        {**task, "interface": {"inputs": [{"name": "a", "type": {"kind": "nope"}}],
                               "outputs": []}},
    ]
    for spec in broken_tasks:
        error = error_of(client.post("/api/v1/tasks", json=body_of(spec)), 400)
        assert "task spec" in error["message"]
    broken_workflows = [
        {**wf, "schema_version": 99},
        {**wf, "nodes": {"n0": 1}},
        {**wf, "nodes": [{**wf["nodes"][0], "inputs": []}]},
        {**wf, "outputs": {"o0": {"nothing": 1}}},
    ]
    for spec in broken_workflows:
        error = error_of(client.post("/api/v1/workflows", json=body_of(spec)), 400)
        assert "workflow spec" in error["message"]
