"""Launching executions over HTTP and reading them back: by launch plan, workflow and
task, run on the shared Ray cluster by the real driver actors; inputs checked before
anything runs; idempotent names; listings; node executions; data."""

from __future__ import annotations

import datetime as dt
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.dag.versioning import Scope, moved_task, moved_workflow
from serve.store import AdminStore
from tests.fixtures import remote_wfs
from tests.serve.remote import (
    EXECUTIONS,
    get,
    launch,
    launch_workflow,
    nodes,
    outputs,
    path,
    wait_for,
)
from tests.serve.specs import (
    DOMAIN,
    PROJECT,
    closure_tasks,
    error_of,
    launch_plan_body,
    register_workflow,
    task_body,
    workflow_spec,
)


def test_launch_a_workflow_then_read_its_outputs_nodes_and_attempts(remote: TestClient) -> None:
    created = launch_workflow(remote, remote_wfs.square_plus_one, inputs={"x": 3})
    assert created["closure"]["phase"] == "QUEUED"  # the admin does not wait for the run
    assert created["spec"]["mode"] == "MANUAL" and created["spec"]["inputs"] == {"x": 3}
    name = created["id"]["name"]
    done = wait_for(remote, name)
    closure = done["closure"]
    assert closure["started_at"] and closure["ended_at"] and closure["duration_s"] >= 0
    assert closure["error"] is None
    data = remote.get(f"/api/v1/data/executions/{path(name)}").json()
    assert data == {"inputs": {"x": 3}, "outputs": {"o0": 10}, "offloaded": []}

    by_id = nodes(remote, name)
    assert list(by_id) == ["n0", "n1"]
    square, plus = by_id["n0"], by_id["n1"]
    assert square["task"].endswith("cached_square") and square["phase"] == "SUCCEEDED"
    assert square["cache_status"] == "MISS" and plus["cache_status"] == "DISABLED"
    [attempt] = square["attempts"]
    assert attempt["attempt"] == 1 and attempt["outcome"] == "SUCCEEDED"
    assert attempt["worker"]["pid"] > 0 and attempt["duration_s"] >= 0
    moments = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (
        square["started_at"], square["ended_at"], plus["started_at"])]
    assert moments == sorted(moments)
    one = remote.get(f"/api/v1/node_executions/{path(name)}/n0").json()
    assert one == square
    node_data = remote.get(f"/api/v1/data/node_executions/{path(name)}/n0").json()
    assert node_data == {"inputs": {"x": 3}, "outputs": {"o0": 9}, "offloaded": []}
    node_data = remote.get(f"/api/v1/data/node_executions/{path(name)}/n1").json()
    assert node_data == {"inputs": {"x": 9}, "outputs": {"o0": 10}, "offloaded": []}
    error_of(remote.get(f"/api/v1/node_executions/{path(name)}/nope"), 404)


def test_launch_a_launch_plan_by_name_takes_its_latest_version(
        remote_sqlite: TestClient) -> None:
    remote = remote_sqlite
    wf = register_workflow(remote, remote_wfs.greeter)
    for version, greeting in (("v1", "Good evening"), ("v2", "Good night")):
        body = launch_plan_body(wf, "formal", version, fixed_inputs={"greeting": greeting},
                                default_inputs={"name": "you"})
        assert remote.post("/api/v1/launch_plans", json=body).status_code == 201
    latest = launch(remote, launch_plan={"name": "formal"})
    assert latest["spec"]["launch_plan"]["version"] == "v2"
    assert latest["spec"]["inputs"] == {"name": "you", "greeting": "Good night"}
    pinned = launch(remote, launch_plan={"name": "formal", "version": "v1"},
                    inputs={"name": "Ada"})
    assert outputs(remote, wait_for(remote, pinned["id"]["name"])["id"]["name"]) == {
        "o0": "Good evening, Ada!"}
    assert outputs(remote, wait_for(remote, latest["id"]["name"])["id"]["name"]) == {
        "o0": "Good night, you!"}

    fixed = error_of(remote.post(EXECUTIONS, json={
        "project": "flytesnacks", "domain": "development", "launch_plan": {"name": "formal"},
        "inputs": {"greeting": "Hi"}}), 400)
    assert "input 'greeting' is fixed by the launch plan" in fixed["message"]
    missing = error_of(remote.post(EXECUTIONS, json={
        "project": "flytesnacks", "domain": "development",
        "launch_plan": {"name": "informal"}}), 404)
    assert "launch plan flytesnacks/development/informal is not registered" in missing["message"]


def test_launch_a_task_alone(remote_sqlite: TestClient) -> None:
    remote = remote_sqlite
    body = task_body(remote_wfs.add_one)
    assert remote.post("/api/v1/tasks", json=body).status_code == 201
    ident = body["id"]
    created = launch(remote, task={"name": ident["name"], "version": ident["version"]},
                     inputs={"x": 41})
    assert created["spec"]["task"] == ident and created["spec"]["workflow"] is None
    name = created["id"]["name"]
    wait_for(remote, name)
    assert outputs(remote, name) == {"o0": 42}
    assert [n["task"] for n in nodes(remote, name).values()] == [ident["name"]]


def test_a_map_node_records_its_children(remote_sqlite: TestClient) -> None:
    created = launch_workflow(remote_sqlite, remote_wfs.plus_ones, inputs={"xs": [1, 2, 3]})
    name = created["id"]["name"]
    wait_for(remote_sqlite, name)
    assert outputs(remote_sqlite, name) == {"o0": [2, 3, 4]}
    [mapped] = nodes(remote_sqlite, name).values()
    children = {c["key"]: c for c in mapped["children"]}
    assert sorted(children) == ["0", "1", "2"]
    assert {c["phase"] for c in children.values()} == {"SUCCEEDED"}
    assert all(len(c["attempts"]) == 1 and c["attempts"][0]["outcome"] == "SUCCEEDED"
               for c in children.values())


def test_a_server_without_a_launcher_refuses_to_launch(client: TestClient) -> None:
    ident = register_workflow(client, remote_wfs.square_plus_one)
    error = error_of(client.post(EXECUTIONS, json={
        "project": "flytesnacks", "domain": "development", "inputs": {"x": 1},
        "workflow": {"name": ident["name"], "version": ident["version"]}}), 503)
    assert error["kind"] == "UNAVAILABLE" and "without a launcher" in error["message"]
    listed = client.get(f"{EXECUTIONS}/flytesnacks/development")
    assert listed.status_code == 200 and listed.json() == {"executions": [], "token": ""}


@pytest.mark.parametrize(("inputs", "status", "expected"), [
    ({"x": "three"}, 400, "input 'x' expects int, got \"three\""),
    ({"x": 1.5}, 400, "input 'x' expects int, got 1.5"),
    ({"y": 1}, 400, "'y' is not an input of the workflow"),
    ({}, 400, "no value for required input(s) 'x'"),
])
def test_bad_inputs_are_refused_naming_the_input_and_its_type(
        remote_sqlite: TestClient, inputs: dict[str, Any], status: int, expected: str) -> None:
    ident = register_workflow(remote_sqlite, remote_wfs.square_plus_one)
    error = error_of(remote_sqlite.post(EXECUTIONS, json={
        "project": "flytesnacks", "domain": "development",
        "workflow": {"name": ident["name"], "version": ident["version"]}, "inputs": inputs}),
        status)
    assert expected in error["message"]
    listed = remote_sqlite.get(f"{EXECUTIONS}/flytesnacks/development").json()
    assert listed["executions"] == []  # nothing was created


@pytest.mark.parametrize(("body", "expected"), [
    ({}, "exactly one of launch_plan, workflow or task"),
    ({"workflow": {"name": "w"}}, "workflow.version is required"),
    ({"task": {"name": "t", "version": "1"}, "launch_plan": {"name": "l"}}, "exactly one"),
    ({"task": {"name": "t", "version": "1"}, "color": "red"}, "color"),
    ({"launch_plan": {"name": "a/b"}}, "invalid name"),
    ({"launch_plan": {"name": "l"}, "timeout": 0}, "body.timeout: Input should be greater "
                                                   "than 0"),
    ({"launch_plan": {"name": "l"}, "timeout": -5}, "body.timeout: Input should be greater "
                                                    "than 0"),
    ({"launch_plan": {"name": "l"}, "timeout": "soon"}, "body.timeout: Input should be a "
                                                        "valid number"),
])
def test_malformed_requests_are_400(remote_sqlite: TestClient, body: dict[str, Any],
                                    expected: str) -> None:
    error = error_of(remote_sqlite.post(EXECUTIONS, json={
        "project": "flytesnacks", "domain": "development", **body}), 400)
    assert expected in error["message"]


def test_file_inputs_must_be_inside_the_blob_store(remote_sqlite: TestClient,
                                                    tmp_path: Path) -> None:
    ident = register_workflow(remote_sqlite, remote_wfs.file_size)
    target = {"workflow": {"name": ident["name"], "version": ident["version"]}}
    outside = tmp_path / "secret.txt"
    outside.write_text("server file")
    for uri in (str(outside), f"file://{outside}", f"file://{tmp_path}/blobs/../secret.txt",
                "s3://elsewhere/data.bin"):
        error = error_of(remote_sqlite.post(EXECUTIONS, json={
            "project": "flytesnacks", "domain": "development", **target,
            "inputs": {"f": uri}}), 400)
        assert "input 'f' (FlyteFile) must be a URI inside the blob store" in error["message"]
    inside = tmp_path / "blobs" / "uploads" / "data.bin"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"12345")
    created = launch(remote_sqlite, **target, inputs={"f": f"file://{inside}"})
    wait_for(remote_sqlite, created["id"]["name"])
    assert outputs(remote_sqlite, created["id"]["name"]) == {"o0": 5}


def test_large_outputs_are_stored_in_the_blob_store_and_referred_to(
        remote_sqlite: TestClient, tmp_path: Path) -> None:
    created = launch_workflow(remote_sqlite, remote_wfs.big_text,
                              inputs={"text": "ab", "times": 600_000})
    name = created["id"]["name"]
    wait_for(remote_sqlite, name)
    data = remote_sqlite.get(f"/api/v1/data/executions/{path(name)}").json()
    assert data["inputs"] == {"text": "ab", "times": 600_000}
    assert data["offloaded"] == ["outputs.o0"]
    reference = data["outputs"]["o0"]
    assert reference["uri"].startswith(f"file://{tmp_path}/blobs/") and reference["format"]
    stored = Path(reference["uri"].removeprefix("file://")).read_text()
    assert json.loads(stored) == "ab" * 600_000
    node = remote_sqlite.get(f"/api/v1/data/node_executions/{path(name)}/n0").json()
    assert node["offloaded"] == ["outputs.o0"]


def test_node_inputs_are_recorded_and_refer_to_stored_outputs(remote_sqlite: TestClient
                                                              ) -> None:
    created = launch_workflow(remote_sqlite, remote_wfs.fan_in,
                              inputs={"text": "ab", "times": 600_000})
    name = created["id"]["name"]
    wait_for(remote_sqlite, name)
    assert outputs(remote_sqlite, name) == {"o0": 2_400_001}

    def data(node_id: str) -> dict[str, Any]:
        response = remote_sqlite.get(f"/api/v1/data/node_executions/{path(name)}/{node_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    big = data("n0")
    assert big["inputs"] == {"text": "ab", "times": 600_000}
    assert big["offloaded"] == ["outputs.o0"]
    # A large input is the stored output it is bound to: the same blob, not a copy.
    assert data("n1") == {"inputs": {"text": big["outputs"]["o0"]},
                          "outputs": {"o0": 1_200_000}, "offloaded": ["inputs.text"]}
    # A list of a large output and a workflow input is stored whole.
    listed = data("n2")
    assert listed["offloaded"] == ["inputs.texts"]
    stored = Path(listed["inputs"]["texts"]["uri"].removeprefix("file://")).read_text()
    assert json.loads(stored) == ["ab" * 600_000, "ab"]
    assert data("n3")["inputs"] == {"xs": [1_200_000, 1_200_000, 1]}


def test_a_name_makes_create_idempotent(remote_sqlite: TestClient) -> None:
    ident = register_workflow(remote_sqlite, remote_wfs.square_plus_one)
    target = {"workflow": {"name": ident["name"], "version": ident["version"]}}
    first = launch(remote_sqlite, name="nightly-1", **target, inputs={"x": 2})
    again = launch(remote_sqlite, 200, name="nightly-1", **target, inputs={"x": 2})
    assert again["id"] == first["id"] and again["closure"]["created_at"] == \
        first["closure"]["created_at"]
    conflict = error_of(remote_sqlite.post(EXECUTIONS, json={
        "project": "flytesnacks", "domain": "development", "name": "nightly-1", **target,
        "inputs": {"x": 3}}), 409)
    assert conflict["paths"] == ["inputs.x"] and "nightly-1" in conflict["message"]
    wait_for(remote_sqlite, "nightly-1")
    listed = remote_sqlite.get(f"{EXECUTIONS}/flytesnacks/development").json()
    assert [e["id"]["name"] for e in listed["executions"]] == ["nightly-1"]


def test_list_filters_and_pages(remote_sqlite: TestClient) -> None:
    ident = register_workflow(remote_sqlite, remote_wfs.square_plus_one)
    body = launch_plan_body(ident, "sq", default_inputs={"x": 1})
    assert remote_sqlite.post("/api/v1/launch_plans", json=body).status_code == 201
    by_plan = [launch(remote_sqlite, name=f"p{i}", launch_plan={"name": "sq"})
               for i in range(3)]
    direct = launch(remote_sqlite, name="direct", inputs={"x": 1},
                    workflow={"name": ident["name"], "version": ident["version"]})
    bad = launch(remote_sqlite, name="bad", launch_plan={"name": "sq"}, inputs={"x": -1})
    for e in [*by_plan, direct]:
        wait_for(remote_sqlite, e["id"]["name"])
    wait_for(remote_sqlite, bad["id"]["name"], ("FAILED",))

    def names(**query: Any) -> list[str]:
        response = remote_sqlite.get(f"{EXECUTIONS}/flytesnacks/development", params=query)
        assert response.status_code == 200, response.text
        return [e["id"]["name"] for e in response.json()["executions"]]

    assert names() == ["bad", "direct", "p2", "p1", "p0"]
    assert names(launch_plan="sq") == ["bad", "p2", "p1", "p0"]
    assert names(phase="FAILED") == ["bad"]
    assert names(phase=["FAILED", "SUCCEEDED"], launch_plan="sq") == ["bad", "p2", "p1", "p0"]
    middle = get(remote_sqlite, "p1")["closure"]["created_at"]
    assert names(created_after=middle) == ["bad", "direct", "p2"]
    assert names(created_before=middle, **{"sort_by.direction": "ASCENDING"}) == ["p0"]
    seen, token = [], ""
    while True:
        page = remote_sqlite.get(f"{EXECUTIONS}/flytesnacks/development",
                                 params={"limit": 2, "token": token}).json()
        seen += [e["id"]["name"] for e in page["executions"]]
        token = page["token"]
        if not token:
            break
    assert seen == ["bad", "direct", "p2", "p1", "p0"]
    for query in ({"phase": "DONE"}, {"created_after": "yesterday"}, {"limit": 0},
                  {"sort_by.key": "version"}, {"token": "garbage"}):
        error_of(remote_sqlite.get(f"{EXECUTIONS}/flytesnacks/development", params=query), 400)
    error_of(remote_sqlite.get(f"{EXECUTIONS}/flytesnacks/nowhere"), 404)
    failed = get(remote_sqlite, "bad")["closure"]["error"]
    assert failed["kind"] == "USER" and "x must not be negative, got -1" in failed["message"]


def test_code_from_a_bundle_runs_and_code_unlike_the_registered_spec_fails(
        remote_sqlite: TestClient, tmp_path: Path) -> None:
    """The driver imports the registered code from its code bundle (Ray's working_dir);
    code that does not compile to the registered spec is refused."""
    module = f"bundled_{tmp_path.name.replace('-', '_')}"
    source = tmp_path / "src" / "bundle"
    source.mkdir(parents=True)
    (source / f"{module}.py").write_text(
        "from engine import task, workflow\n\n\n"
        "@task\ndef triple(x: int) -> int:\n    return 3 * x\n\n\n"
        "@workflow\ndef tripled(x: int) -> int:\n    return triple(x=x)\n")
    bundle = tmp_path / "blobs" / "code" / "bundle.zip"
    bundle.parent.mkdir(parents=True)
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(source / f"{module}.py", f"bundle/{module}.py")
    sys.path.insert(0, str(source))
    try:
        wf = __import__(module).tripled
        spec = workflow_spec(wf)
        tasks = closure_tasks(wf)
    finally:
        sys.path.remove(str(source))
        sys.modules.pop(module, None)
    store: AdminStore = remote_sqlite.app.state.store  # type: ignore[attr-defined]
    code_uri = f"file://{bundle}"
    for task in tasks:
        store.register_task(task, code_uri=code_uri)
    store.register_workflow(spec, code_uri=code_uri)
    created = launch(remote_sqlite, workflow={"name": spec["id"]["name"],
                                              "version": spec["id"]["version"]},
                     inputs={"x": 14})
    assert created["spec"]["code_uri"] == code_uri
    wait_for(remote_sqlite, created["id"]["name"])
    assert outputs(remote_sqlite, created["id"]["name"]) == {"o0": 42}

    # Registered under a version of its own (as `flyray register --version` does), the
    # same code runs; code that compiles to another spec is refused.
    compiled = remote_wfs.square_plus_one.compile().spec
    for version, source in (("v1", None), ("v2", "elsewhere.py:1")):
        scope = Scope(PROJECT, DOMAIN, version)
        for task in compiled.tasks.values():
            store.register_task(moved_task(task, scope))
        spec = moved_workflow(compiled, scope).to_dict()
        if source is not None:
            spec["nodes"][0]["source"] = source
        store.register_workflow(spec)
    name = compiled.id.name
    same = launch(remote_sqlite, workflow={"name": name, "version": "v1"}, inputs={"x": 1})
    other = launch(remote_sqlite, workflow={"name": name, "version": "v2"}, inputs={"x": 1})
    wait_for(remote_sqlite, same["id"]["name"])
    failed = wait_for(remote_sqlite, other["id"]["name"], ("FAILED",))
    error = failed["closure"]["error"]
    assert error["kind"] == "SYSTEM"
    assert "does not compile to the registered version v2" in error["message"]
    assert "it differs at nodes[0].source" in error["message"]
