"""Warm executors: long-lived Ray actors that each drive many executions, keyed by what
the executions share (admin database, project and domain, code bundle). Seen through
``GET /api/v1/executors`` and the executions themselves, with real Ray actors on the
session's cluster and real admin databases: one process drives every execution of a
version, a full executor makes the next slot start, idle ones end, the warm pool stays,
a drain hands executions back to be resumed by the next admin, another domain gets its
own executor, and a SIGKILLed executor takes down only its own executions."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.config import Settings
from engine.dag.versioning import Scope, moved_task, moved_workflow
from serve.app import create_app
from serve.control.launcher import NAMESPACE, RayLauncher, executor_names
from serve.store import AdminStore
from serve.store._models import ExecutionRow
from tests.fixtures import executor_wfs, remote_wfs
from tests.fixtures.remote_wfs import runs
from tests.serve.conftest import FAST
from tests.serve.remote import (
    EXECUTIONS,
    get,
    launch,
    launch_resumable,
    launch_workflow,
    node_phase,
    nodes,
    outputs,
    wait_for,
    wait_until,
)
from tests.serve.specs import DOMAIN, PROJECT, body_of, register_workflow

EXECUTORS = "/api/v1/executors"


def listed(client: TestClient) -> list[dict[str, Any]]:
    """The executors as ``GET /api/v1/executors`` lists them."""
    response = client.get(EXECUTORS)
    assert response.status_code == 200, response.text
    return list(response.json()["executors"])


def slot_of(executor: dict[str, Any]) -> int:
    """The slot in an executor's name (``flyray-executor:<key digest>:<slot>``)."""
    return int(executor["name"].rsplit(":", 1)[1])


def actual_pid(name: str) -> int:
    """The pid of the executor actor ``name``'s process, asked of the actor itself."""
    handle = ray.get_actor(name, namespace=NAMESPACE)
    return int(ray.get(handle.__ray_call__.remote(lambda _: os.getpid())))


def executor_driving(name: str) -> str:
    """The name of the executor that drives execution ``name`` (of PROJECT/DOMAIN)."""
    for executor in executor_names():
        handle = ray.get_actor(executor, namespace=NAMESPACE)
        if any(ident.name == name for ident, _ in ray.get(handle.driving.remote())):
            return executor
    raise AssertionError(f"no executor drives execution {name}")


def execution_row(store: AdminStore, name: str) -> ExecutionRow:
    row = store.database.run(lambda s: s.scalar(
        select(ExecutionRow).where(ExecutionRow.name == name)), write=False)
    assert row is not None, f"no execution {name} in the admin database"
    return row


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[AdminStore]:
    admin = AdminStore(f"sqlite:///{tmp_path}/admin.db")
    try:
        yield admin
    finally:
        admin.close()


@contextlib.contextmanager
def admin(store: AdminStore, home: Path, launcher: RayLauncher,
          **timings: Any) -> Iterator[TestClient]:
    """The admin API over ``store`` running executions on Ray, with FAST timings changed
    by ``timings``; its supervisor runs while the block does."""
    liveness = dataclasses.replace(FAST, **timings)
    app = create_app(Settings(home=home), store=store, launcher=launcher, liveness=liveness)
    with TestClient(app) as client:
        yield client


@pytest.mark.timeout(90)
def test_the_executions_of_one_version_share_one_executor_process(
        remote: TestClient) -> None:
    ident = register_workflow(remote, remote_wfs.greeter)
    target = {"name": ident["name"], "version": ident["version"]}
    names = [launch(remote, workflow=target, inputs={"name": f"n{i}"})["id"]["name"]
             for i in range(5)]
    seen: set[tuple[str, int]] = set()  # (name, pid) of every executor listed meanwhile

    def all_done() -> bool:
        seen.update((e["name"], e["pid"]) for e in listed(remote))
        return all(get(remote, n)["closure"]["phase"] == "SUCCEEDED" for n in names)

    wait_until(all_done, timeout_s=60, what="the five executions to succeed")
    # Executors report themselves every heartbeat: the count catches up within one.
    wait_until(lambda: listed(remote)[0]["completed"] >= 5, what="the count to be reported")
    [executor] = listed(remote)
    assert seen == {(executor["name"], executor["pid"])}
    assert (executor["project"], executor["domain"], executor["code_uri"]) == (
        PROJECT, DOMAIN, None)
    assert executor["warm"] and not executor["stale"]
    assert (executor["in_flight"], executor["completed"]) == (0, 5)
    assert executor["started_at"] <= executor["heartbeat_at"]
    # The pid it reports is its process's: the one that drove all five.
    assert actual_pid(executor["name"]) == executor["pid"]


@pytest.mark.timeout(90)
def test_a_full_executor_hands_the_next_executions_to_another_slot(
        sqlite_store: AdminStore, tmp_path: Path, launcher: RayLauncher) -> None:
    with admin(sqlite_store, tmp_path, launcher, executor_capacity=2) as client:
        ident = register_workflow(client, remote_wfs.sleeper)
        target = {"name": ident["name"], "version": ident["version"]}
        names = [launch(client, workflow=target, inputs={
            "seconds": 2.0, "marker_dir": str(tmp_path / f"markers-{i}")})["id"]["name"]
            for i in range(4)]
        busiest = 0

        def all_done() -> bool:
            nonlocal busiest
            busiest = max([busiest, *(e["in_flight"] for e in listed(client))])
            return all(get(client, n)["closure"]["phase"] == "SUCCEEDED" for n in names)

        wait_until(all_done, timeout_s=60, what="the four executions to succeed")
        assert busiest <= 2
        wait_until(lambda: sum(e["completed"] for e in listed(client)) == 4,
                   what="the counts to be reported")
        executors = listed(client)
        assert sorted(slot_of(e) for e in executors) == [0, 1]
        assert [e["warm"] for e in sorted(executors, key=slot_of)] == [True, False]


@pytest.mark.timeout(90)
def test_an_idle_executor_beyond_the_warm_pool_ends_by_itself(
        sqlite_store: AdminStore, tmp_path: Path, launcher: RayLauncher) -> None:
    with admin(sqlite_store, tmp_path, launcher, warm_executors=0,
               executor_idle_s=1.0) as client:
        created = launch_workflow(client, remote_wfs.greeter, inputs={"name": "idle"})
        wait_until(lambda: len(listed(client)) == 1, what="its executor to report itself")
        [executor] = listed(client)
        assert not executor["warm"]
        wait_for(client, created["id"]["name"])
        wait_until(lambda: not listed(client), what="the idle executor's row to go")
        wait_until(lambda: not executor_names(), what="the idle executor's actor to end")


@pytest.mark.timeout(60)
def test_the_warm_pool_is_started_before_any_execution_and_outlives_idle_time(
        sqlite_store: AdminStore, tmp_path: Path, launcher: RayLauncher) -> None:
    idle_s = 1.0
    with admin(sqlite_store, tmp_path, launcher, warm_executors=1,
               executor_idle_s=idle_s) as client:
        wait_until(lambda: len(listed(client)) == 1, what="the warm executor to report")
        [warm] = listed(client)
        assert (warm["project"], warm["domain"], warm["code_uri"]) == (PROJECT, DOMAIN, None)
        assert warm["warm"] and (warm["in_flight"], warm["completed"]) == (0, 0)
        # Idle for three times its idle time (and several heartbeats): still there.
        time.sleep(3 * idle_s)
        [later] = listed(client)
        assert (later["name"], later["pid"], later["warm"]) == (warm["name"], warm["pid"], True)
        assert later["heartbeat_at"] > warm["heartbeat_at"] and not later["stale"]
        assert executor_names() == [warm["name"]]


@pytest.mark.timeout(120)
def test_a_drained_execution_waits_running_and_the_next_admin_resumes_it(
        store: AdminStore, tmp_path: Path, launcher: RayLauncher) -> None:
    markers = tmp_path / "markers"
    with admin(store, tmp_path, launcher) as client:
        name = launch_resumable(client, markers, 5.0)
        drained = client.post(f"{EXECUTORS}/drain", json={"timeout_s": 30})
        assert drained.status_code == 200, drained.text
        assert drained.json() == {"released": 1}
        launched = execution_row(store, name).launch
        # The drained admin launches nothing: the executors end, none starts again (not
        # the warm pool, not a driver for the handed-back execution) over several of
        # its supervisor's passes past the grace of a missing driver.
        wait_until(lambda: not executor_names(), what="the drained executor to end")
        time.sleep(FAST.missing_grace_s + 8 * FAST.supervise_every_s)
        assert executor_names() == [] and listed(client) == []
        held = get(client, name)["closure"]
        assert (held["phase"], held["error"], held["driver_restarts"]) == ("RUNNING", None, 0)
        assert nodes(client, name)["n0"]["phase"] == "SUCCEEDED"
        row = execution_row(store, name)
        assert (row.launch, row.launched_at) == (launched, None)
    # A new admin over the same database (a fresh supervisor) resumes it.
    with admin(store, tmp_path, launcher) as client:
        done = wait_for(client, name, timeout_s=60)
        assert done["closure"]["driver_restarts"] == 0
        assert outputs(client, name) == {"o0": 3}
        by_id = nodes(client, name)
        assert [n["phase"] for n in by_id.values()] == ["SUCCEEDED"] * 3
        assert len(by_id["n0"]["attempts"]) == 1
    # n0 did not run again; the nap the drain stopped did, from the start.
    assert (runs(markers, "a"), runs(markers, "started"), runs(markers, "woke")) == (1, 2, 1)


def register_in(client: TestClient, domain: str, version: str) -> str:
    """Register greeter's tasks and workflow in PROJECT/``domain`` at ``version``;
    returns the workflow's name."""
    compiled = remote_wfs.greeter.compile().spec
    scope = Scope(PROJECT, domain, version)
    for task in compiled.tasks.values():
        response = client.post("/api/v1/tasks", json=body_of(moved_task(task, scope).to_dict()))
        assert response.status_code == 201, response.text
    response = client.post("/api/v1/workflows",
                           json=body_of(moved_workflow(compiled, scope).to_dict()))
    assert response.status_code == 201, response.text
    return compiled.id.name


@pytest.mark.timeout(90)
def test_another_domain_gets_an_executor_of_its_own(remote_sqlite: TestClient) -> None:
    workflow = register_in(remote_sqlite, "staging", "v1")
    response = remote_sqlite.post(EXECUTIONS, json={
        "project": PROJECT, "domain": "staging", "workflow": {"name": workflow, "version": "v1"},
        "inputs": {"name": "staging"}})
    assert response.status_code == 201, response.text
    route = f"{EXECUTIONS}/{PROJECT}/staging/{response.json()['id']['name']}"

    def phase() -> str:
        reply = remote_sqlite.get(route)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["closure"]["phase"])

    wait_until(lambda: phase() not in ("QUEUED", "RUNNING"), timeout_s=60,
               what="the staging execution to end")
    assert phase() == "SUCCEEDED"

    def staging() -> list[dict[str, Any]]:
        return [e for e in listed(remote_sqlite) if e["domain"] == "staging"]

    wait_until(lambda: [e["completed"] for e in staging()] == [1],
               what="the staging executor to report the execution it drove")
    [own] = staging()
    assert (own["project"], own["code_uri"], own["warm"]) == (PROJECT, None, False)
    # The warm pool is the default domain's, and drove nothing.
    [default] = [e for e in listed(remote_sqlite) if e["domain"] == DOMAIN]
    assert default["warm"] and default["completed"] == 0
    assert default["name"] != own["name"] and default["pid"] != own["pid"]


def launch_napping(client: TestClient, target: dict[str, Any], markers: Path,
                   seconds: float) -> tuple[str, str]:
    """Launch ``executor_wfs.resumable_once`` and wait for its nap, after its first node
    ('a') is recorded; returns the execution's name and its executor's."""
    name = launch(client, workflow=target, inputs={
        "marker_dir": str(markers), "seconds": seconds})["id"]["name"]
    wait_until(lambda: runs(markers, "started") == 1, what=f"{name}'s nap to start")
    # Events reach the database in batches: n0 counts as done once recorded.
    wait_until(lambda: node_phase(client, name, "n0") == "SUCCEEDED",
               what=f"{name}'s first node's success to be recorded")
    return name, executor_driving(name)


@pytest.mark.timeout(120)
def test_a_killed_executor_takes_down_only_its_own_executions(
        sqlite_store: AdminStore, tmp_path: Path, launcher: RayLauncher) -> None:
    # One execution per executor: the two run in different processes. The one to be
    # killed naps far longer than the test waits for (only on its first run); the
    # spared one is still napping when the other's executor is killed.
    with admin(sqlite_store, tmp_path, launcher, executor_capacity=1) as client:
        ident = register_workflow(client, executor_wfs.resumable_once)
        target = {"name": ident["name"], "version": ident["version"]}
        marked = {"killed": tmp_path / "killed", "spared": tmp_path / "spared"}
        names, drivers = {}, {}
        for label, seconds in (("killed", 90.0), ("spared", 5.0)):
            names[label], drivers[label] = launch_napping(client, target, marked[label],
                                                          seconds)
        assert drivers["killed"] != drivers["spared"]
        by_name = {e["name"]: e for e in listed(client)}
        # The pid the listing reports is the executor's own: killing it kills the executor.
        os.kill(by_name[drivers["killed"]]["pid"], signal.SIGKILL)
        killed = wait_for(client, names["killed"], timeout_s=60)
        spared = wait_for(client, names["spared"], timeout_s=30)
        assert (killed["closure"]["driver_restarts"], spared["closure"]["driver_restarts"]) \
            == (1, 0)
        # The killed one resumed past its first node; the spared one ran each node once.
        assert (runs(marked["killed"], "a"), runs(marked["killed"], "started")) == (1, 2)
        assert (runs(marked["spared"], "a"), runs(marked["spared"], "started")) == (1, 1)
        assert drivers["spared"] in executor_names()
        assert actual_pid(drivers["spared"]) == by_name[drivers["spared"]]["pid"]


@pytest.mark.timeout(120)
def test_a_task_worker_killed_mid_run_costs_a_system_retry_not_the_execution(
        remote_sqlite: TestClient, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    created = launch_workflow(remote_sqlite, executor_wfs.survives_a_lost_worker,
                              inputs={"x": 21, "marker_dir": str(markers)})
    name = created["id"]["name"]
    done = wait_for(remote_sqlite, name, timeout_s=90)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"]
    assert outputs(remote_sqlite, name) == {"o0": 42}
    attempts = nodes(remote_sqlite, name)["n0"]["attempts"]
    kinds = [(a["outcome"], a["error"] and a["error"]["kind"]) for a in attempts]
    assert kinds == [("FAILED", "SYSTEM"), ("SUCCEEDED", None)], attempts
    assert "WorkerCrashedError" in attempts[0]["error"]["message"], attempts[0]
    assert runs(markers, "died") == 2
