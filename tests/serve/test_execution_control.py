"""Terminating, relaunching and recovering executions, and launch plan slots, over HTTP
with the real driver actors on the shared Ray cluster. Marker files the tasks leave
tell what really ran in the workers."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
import ray
from fastapi.testclient import TestClient

from serve.control.launcher import NAMESPACE, executor_names
from tests.fixtures import remote_wfs
from tests.fixtures.remote_wfs import runs
from tests.serve.remote import (
    EXECUTIONS,
    get,
    launch,
    launch_workflow,
    nodes,
    outputs,
    path,
    wait_for,
    wait_until,
)
from tests.serve.specs import error_of, launch_plan_body, register_workflow

NAP_S = 3.0


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def driven() -> list[Any]:
    """The launches the executors drive now."""
    return [launch for name in executor_names()
            for launch in ray.get(ray.get_actor(name, namespace=NAMESPACE).driving.remote())]


def test_terminate_a_running_execution_stops_its_ray_work(
        remote: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    markers = tmp_path / "markers"
    created = launch_workflow(remote, remote_wfs.sleeper,
                              inputs={"seconds": NAP_S, "marker_dir": str(markers)})
    name = created["id"]["name"]
    wait_until(lambda: runs(markers, "started") == 1, what="the nap to start")
    nap_started = next(markers.glob("started-*")).stat().st_mtime
    response = remote.request("DELETE", f"{EXECUTIONS}/{path(name)}",
                              json={"cause": "changed my mind"})
    assert response.status_code == 200, response.text
    closure = response.json()["closure"]
    assert (closure["phase"], closure["abort_cause"]) == ("ABORTED", "changed my mind")
    assert closure["error"] is None and closure["ended_at"]
    assert "did not confirm" not in caplog.text  # the driver stopped and recorded it
    by_id = nodes(remote, name)
    assert {n["phase"] for n in by_id.values()} == {"ABORTED"}
    wait_until(lambda: not driven(), what="its driver to end")
    # The task was killed: past the end of its nap, it has not woken to leave its marker.
    time.sleep(max(0.0, nap_started + NAP_S + 1.0 - time.time()))
    assert runs(markers, "woke") == 0
    again = remote.request("DELETE", f"{EXECUTIONS}/{path(name)}")
    assert again.status_code == 200 and again.json()["closure"]["abort_cause"] == \
        "changed my mind"


def test_an_execution_past_its_timeout_is_stopped_and_ends_timed_out(
        remote: TestClient, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    created = launch_workflow(remote, remote_wfs.sleeper, timeout=3,
                              inputs={"seconds": 2 * NAP_S, "marker_dir": str(markers)})
    assert created["spec"]["timeout"] == 3
    name = created["id"]["name"]
    closure = wait_for(remote, name, ("TIMED_OUT",))["closure"]
    assert closure["error"]["kind"] == "USER" and closure["abort_cause"] is None
    assert "ran past its timeout of 3 s (it ran " in closure["error"]["message"]
    assert {n["phase"] for n in nodes(remote, name).values()} == {"ABORTED"}
    wait_until(lambda: not driven(), what="its driver to end")
    # The nap was killed (if it had started: on a busy machine the timeout may come
    # first): past its end, it has not woken to leave its marker.
    for started in markers.glob("started-*"):
        time.sleep(max(0.0, started.stat().st_mtime + 2 * NAP_S + 1.0 - time.time()))
    assert runs(markers, "woke") == 0
    # Relaunching or recovering it keeps the timeout.
    for verb in ("relaunch", "recover"):
        response = remote.post(f"{EXECUTIONS}/{verb}", json={"id": created["id"], "name": verb})
        assert response.status_code == 201, response.text
        assert response.json()["spec"]["timeout"] == 3
        remote.request("DELETE", f"{EXECUTIONS}/{path(verb)}")


def test_terminating_an_execution_that_ended_is_refused(remote_sqlite: TestClient) -> None:
    created = launch_workflow(remote_sqlite, remote_wfs.square_plus_one, inputs={"x": 2})
    name = created["id"]["name"]
    wait_for(remote_sqlite, name)
    error = error_of(remote_sqlite.delete(f"{EXECUTIONS}/{path(name)}"), 409)
    assert error["kind"] == "FAILED_PRECONDITION"
    assert "already ended SUCCEEDED" in error["message"]
    error_of(remote_sqlite.delete(f"{EXECUTIONS}/flytesnacks/development/nope"), 404)
    error_of(remote_sqlite.request("DELETE", f"{EXECUTIONS}/{path(name)}",
                                   json={"cause": ""}), 400)


def test_relaunch_runs_the_same_versions_with_the_same_inputs(remote_sqlite: TestClient
                                                              ) -> None:
    first = launch_workflow(remote_sqlite, remote_wfs.square_plus_one, inputs={"x": 5})
    name = first["id"]["name"]
    wait_for(remote_sqlite, name)
    response = remote_sqlite.post(f"{EXECUTIONS}/relaunch",
                                  json={"id": first["id"], "name": "again"})
    assert response.status_code == 201, response.text
    again = response.json()
    assert again["id"]["name"] == "again" and again["spec"]["mode"] == "RELAUNCH"
    assert again["spec"]["relaunched_from"] == first["id"]
    assert again["spec"]["inputs"] == {"x": 5}
    assert again["spec"]["workflow"] == first["spec"]["workflow"]
    wait_for(remote_sqlite, "again")
    assert outputs(remote_sqlite, "again") == {"o0": 26}
    assert nodes(remote_sqlite, "again")["n0"]["cache_status"] == "HIT"  # same inputs
    repeat = remote_sqlite.post(f"{EXECUTIONS}/relaunch",
                                json={"id": first["id"], "name": "again"})
    assert repeat.status_code == 200 and repeat.json()["id"]["name"] == "again"
    error_of(remote_sqlite.post(f"{EXECUTIONS}/relaunch", json={"id": {
        "project": "flytesnacks", "domain": "development", "name": "nope"}}), 404)


def test_recover_reuses_succeeded_nodes_and_runs_the_rest(remote: TestClient,
                                                          tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    first = launch_workflow(remote, remote_wfs.recoverable,
                            inputs={"marker_dir": str(markers), "x": 1})
    name = first["id"]["name"]
    failed = wait_for(remote, name, ("FAILED",))
    assert failed["closure"]["error"]["kind"] == "USER"
    assert "first run fails on purpose" in failed["closure"]["error"]["message"]
    before = {k: n["phase"] for k, n in nodes(remote, name).items()}
    assert before == {"n0": "SUCCEEDED", "n1": "SUCCEEDED", "n2": "FAILED", "n3": "SKIPPED"}
    assert (runs(markers, "a"), runs(markers, "d"), runs(markers, "flaky")) == (1, 1, 1)

    response = remote.post(f"{EXECUTIONS}/recover", json={"id": first["id"]})
    assert response.status_code == 201, response.text
    recovered = response.json()
    assert recovered["spec"]["mode"] == "RECOVER"
    assert recovered["spec"]["recovered_from"] == first["id"]
    new = recovered["id"]["name"]
    wait_for(remote, new)
    assert outputs(remote, new) == {"o0": 5}  # a = d = 2, b = 4, c = 5
    after = nodes(remote, new)
    assert {k: n["phase"] for k, n in after.items()} == {
        "n0": "RECOVERED", "n1": "RECOVERED", "n2": "SUCCEEDED", "n3": "SUCCEEDED"}
    assert after["n0"]["attempts"] == [] and after["n2"]["attempts"][0]["attempt"] == 1
    # a and d did not run again; the failed and the skipped node did.
    assert (runs(markers, "a"), runs(markers, "d")) == (1, 1)
    assert (runs(markers, "flaky"), runs(markers, "c")) == (2, 1)
    recovered_data = remote.get(f"/api/v1/data/node_executions/{path(new)}/n0").json()
    assert recovered_data["outputs"] == {"o0": 2}


def test_recover_reuses_the_nodes_of_a_conditional_and_after_it(remote_sqlite: TestClient,
                                                               tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    first = launch_workflow(remote_sqlite, remote_wfs.branchy,
                            inputs={"marker_dir": str(markers), "x": 1})
    wait_for(remote_sqlite, first["id"]["name"], ("FAILED",))
    response = remote_sqlite.post(f"{EXECUTIONS}/recover", json={"id": first["id"]})
    assert response.status_code == 201, response.text
    new = response.json()["id"]["name"]
    wait_for(remote_sqlite, new)
    assert outputs(remote_sqlite, new) == {"o0": 5}  # a = 2, pos = 3, b = 4; b + x
    # a, the conditional, its 'pos' arm and b after it are reused; only the flaky node runs.
    assert {k: n["phase"] for k, n in nodes(remote_sqlite, new).items()} == {
        "n0": "RECOVERED", "n1": "RECOVERED", "n2": "RECOVERED", "n3": "SKIPPED",
        "n4": "RECOVERED", "n5": "SUCCEEDED"}
    assert [runs(markers, label) for label in ("a", "pos", "neg", "b", "flaky")] == [
        1, 1, 0, 1, 2]

    def inputs(execution: str, node_id: str) -> Any:
        return remote_sqlite.get(f"/api/v1/data/node_executions/{path(execution)}/"
                                 f"{node_id}").json()["inputs"]

    # b's input is the conditional's output: the 'pos' arm's, recorded in both runs.
    for execution in (first["id"]["name"], new):
        assert inputs(execution, "n4") == {"marker_dir": str(markers), "label": "b", "x": 3}
    assert inputs(new, "n5") == {"marker_dir": str(markers), "a": 4, "b": 1}
    assert inputs(new, "n3") is None  # skipped: never started


def test_only_an_execution_that_ended_can_be_recovered(remote_sqlite: TestClient,
                                                       tmp_path: Path) -> None:
    created = launch_workflow(remote_sqlite, remote_wfs.sleeper,
                              inputs={"seconds": 30.0, "marker_dir": str(tmp_path)})
    error = error_of(remote_sqlite.post(f"{EXECUTIONS}/recover", json={"id": created["id"]}),
                     400)
    assert "only an execution that has ended can be recovered" in error["message"]
    response = remote_sqlite.request("DELETE", f"{EXECUTIONS}/{path(created['id']['name'])}")
    assert response.json()["closure"]["phase"] == "ABORTED"


def test_a_launch_plan_runs_at_most_its_max_parallel_executions(remote: TestClient,
                                                                tmp_path: Path) -> None:
    wf = register_workflow(remote, remote_wfs.sleeper)
    body = launch_plan_body(wf, "one_at_a_time", default_inputs={
        "seconds": 1.0, "marker_dir": str(tmp_path)}, max_parallel_executions=1)
    assert remote.post("/api/v1/launch_plans", json=body).status_code == 201
    first = launch(remote, name="first", launch_plan={"name": "one_at_a_time"})
    second = launch(remote, name="second", launch_plan={"name": "one_at_a_time"})
    third = launch(remote, name="third", launch_plan={"name": "one_at_a_time"})
    assert [e["closure"]["phase"] for e in (first, second, third)] == ["QUEUED"] * 3
    wait_for(remote, "first", ("RUNNING", "SUCCEEDED"))
    assert get(remote, "second")["closure"]["phase"] == "QUEUED"
    # A waiting execution can be terminated before it ever starts.
    response = remote.request("DELETE", f"{EXECUTIONS}/{path('third')}",
                              json={"cause": "not needed"})
    assert response.json()["closure"]["phase"] == "ABORTED"
    done = [wait_for(remote, e["id"]["name"]) for e in (first, second)]
    assert moment(done[1]["closure"]["started_at"]) >= moment(done[0]["closure"]["ended_at"])
    assert get(remote, "third")["closure"]["started_at"] is None
    assert runs(tmp_path, "started") == 2
