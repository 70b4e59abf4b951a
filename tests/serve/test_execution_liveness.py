"""Executions survive what happens to the processes around them: an executor killed
(SIGKILL) mid-run is found and its executions taken over by another (they resume without
running their succeeded nodes again) or, past the restart budget, fail explicitly; an
admin server restarted mid-run finds its executions still running and then done."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import ray
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.admin_client import AdminClient
from engine.config import Settings
from serve.app import create_app
from serve.control.executions import ExecutionService
from serve.control.launcher import NAMESPACE, RayLauncher, executor_names
from serve.control.supervisor import Supervisor
from serve.store import AdminStore
from serve.store._models import ExecutionRow
from serve.store.database import aware
from serve.store.execution_records import DriverLease, ExecutionId
from tests.fixtures import remote_wfs
from tests.fixtures.remote_wfs import runs
from tests.serve.conftest import FAST
from tests.serve.remote import (
    launch,
    launch_resumable,
    launch_workflow,
    nodes,
    outputs,
    wait_for,
    wait_until,
)
from tests.serve.specs import (
    DOMAIN,
    PROJECT,
    body_of,
    closure_tasks,
    register_workflow,
    workflow_body,
)
from tests.servers import free_port


def kill_driver(name: str, launch: int = 1) -> None:
    """SIGKILL the process of the executor that drives launch ``launch`` of ``name``."""
    wanted = (ExecutionId(PROJECT, DOMAIN, name), launch)
    for executor in executor_names():
        handle = ray.get_actor(executor, namespace=NAMESPACE)
        if wanted in ray.get(handle.driving.remote()):
            pid = ray.get(handle.__ray_call__.remote(lambda _: os.getpid()))
            os.kill(pid, signal.SIGKILL)
            return
    raise AssertionError(f"no executor drives {wanted}")


def test_a_killed_driver_is_replaced_and_the_execution_resumes(remote: TestClient,
                                                               tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    name = launch_resumable(remote, markers, 5.0)
    kill_driver(name)
    done = wait_for(remote, name, timeout_s=90)
    assert done["closure"]["driver_restarts"] == 1
    assert outputs(remote, name) == {"o0": 3}
    by_id = nodes(remote, name)
    assert [n["phase"] for n in by_id.values()] == ["SUCCEEDED"] * 3
    assert len(by_id["n0"]["attempts"]) == 1
    # The node that succeeded before the driver was lost did not run again; the one
    # the lost driver was running did.
    assert runs(markers, "a") == 1
    assert runs(markers, "started") == 2


def test_a_burst_of_executions_starts_one_driver_at_a_time_and_all_complete(
        ray_cluster: None, launcher: RayLauncher, tmp_path: Path) -> None:
    store = AdminStore(f"sqlite:///{tmp_path}/admin.db")
    one_at_a_time = dataclasses.replace(FAST, max_starting_drivers=1)
    app = create_app(Settings(home=tmp_path), store=store, launcher=launcher,
                     liveness=one_at_a_time)
    try:
        with TestClient(app) as client:
            ident = register_workflow(client, remote_wfs.square_plus_one)
            target = {"name": ident["name"], "version": ident["version"]}
            names = [launch(client, workflow=target, inputs={"x": x})["id"]["name"]
                     for x in (1, 2)]
            # Created at once; the drivers beyond the first wait for it to start.
            launched = [r.launch for r in store.database.run(
                lambda s: s.scalars(select(ExecutionRow)).all(), write=False)]
            assert sorted(launched) in ([0, 1], [1, 1])
            assert [outputs(client, wait_for(client, n)["id"]["name"]) for n in names] == [
                {"o0": x * x + 1} for x in (1, 2)]
    finally:
        store.close()


def test_a_driver_lost_past_the_restart_budget_fails_the_execution(
        ray_cluster: None, launcher: RayLauncher, tmp_path: Path) -> None:
    store = AdminStore(f"sqlite:///{tmp_path}/admin.db")
    no_restarts = dataclasses.replace(FAST, max_driver_restarts=0)
    app = create_app(Settings(home=tmp_path), store=store, launcher=launcher,
                     liveness=no_restarts)
    try:
        with TestClient(app) as client:
            markers = tmp_path / "markers"
            # n0's success is recorded before the driver dies, or the expected phases
            # below would be a race.
            name = launch_resumable(client, markers, 30.0)
            kill_driver(name)
            failed = wait_for(client, name, ("FAILED",), timeout_s=30)
            error = failed["closure"]["error"]
            assert error["kind"] == "SYSTEM"
            assert "driver was lost (its driver's executor is gone)" in error["message"]
            phases = {n["id"]["node_id"]: n["phase"] for n in nodes(client, name).values()}
            assert phases == {"n0": "SUCCEEDED", "n1": "ABORTED", "n2": "ABORTED"}
    finally:
        store.close()


def test_a_restarted_driver_counts_the_timeout_from_the_executions_start(
        remote_sqlite: TestClient, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    created = launch_workflow(remote_sqlite, remote_wfs.sleeper, timeout=60,
                              inputs={"seconds": 60.0, "marker_dir": str(markers)})
    name = created["id"]["name"]
    wait_until(lambda: runs(markers, "started") == 1, what="the nap to start")
    # As far as the database can tell, the execution started two minutes ago; then its
    # driver is lost. Its replacement must not start the clock over.
    store: AdminStore = remote_sqlite.app.state.store  # type: ignore[attr-defined]
    with store.database.session(write=True) as s:
        row = s.scalar(select(ExecutionRow).where(ExecutionRow.name == name))
        assert row is not None and row.started_at is not None
        row.started_at = aware(row.started_at) - dt.timedelta(seconds=120)
    kill_driver(name)
    done = wait_for(remote_sqlite, name, ("TIMED_OUT",), timeout_s=60)
    assert done["closure"]["driver_restarts"] == 1
    message = done["closure"]["error"]["message"]
    ran = re.search(r"timeout of 60 s \(it ran ([0-9.]+) s\)", message)
    assert ran is not None and float(ran.group(1)) >= 120, message
    assert runs(markers, "started") == 1  # the new driver ran nothing: it was too late
    assert {n["phase"] for n in nodes(remote_sqlite, name).values()} == {"ABORTED"}


def test_a_launch_not_claimed_yet_counts_as_lost_only_past_its_start_grace(
        tmp_path: Path) -> None:
    store = AdminStore(f"sqlite:///{tmp_path}/admin.db")
    store.close()  # the supervisor's judgement reads nothing
    supervisor = Supervisor(ExecutionService(store, None, Settings(home=tmp_path), FAST))
    now = dt.datetime.now(dt.timezone.utc)
    ago = now - dt.timedelta(seconds=FAST.missing_grace_s + 5)
    ident = ExecutionId(PROJECT, DOMAIN, "x")
    # Relaunched after a loss, its launch waits its turn (in some admin replica's
    # queue) or for its new executor to start: no executor drives it yet. That is no
    # second loss, or one node lost would spend several restarts.
    assert supervisor.lost(DriverLease(ident, 2, ago, None, now), alive=False) is None
    # Taken by no executor for the handoff grace: the admin that made it died with it.
    dropped = now - dt.timedelta(seconds=FAST.handoff_grace_s + 1)
    assert "reached no executor" in str(supervisor.lost(DriverLease(ident, 2, dropped, None,
                                                                    now), alive=False))
    assert supervisor.lost(DriverLease(ident, 2, dropped, None, now), alive=True) is None
    late = now - dt.timedelta(seconds=FAST.start_grace_s + 1)
    assert "did not start within" in str(supervisor.lost(DriverLease(ident, 2, late, None, now),
                                                         alive=False))
    # Claimed, then no executor drives it: its executor is gone.
    assert supervisor.lost(DriverLease(ident, 2, ago, now, now), alive=False) == \
        "its driver's executor is gone"
    assert supervisor.lost(DriverLease(ident, 2, ago, now, now), alive=True) is None


def call(endpoint: str, method: str, route: str, body: Any = None) -> tuple[int, Any]:
    """Status and body of one admin API call; an error status raises AdminRequestError
    with the server's message."""
    reply = AdminClient(endpoint).request(method, route, body)
    return reply.status, reply.body


def test_executions_outlive_a_restart_of_the_admin_server(
        ray_cluster: None, launcher: RayLauncher, tmp_path: Path) -> None:
    from ray import serve

    from serve.deployment import APP_NAME, build

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    settings = Settings(home=tmp_path, admin_endpoint=endpoint,
                        admin_db_url=f"sqlite:///{tmp_path}/admin.db")
    markers = tmp_path / "markers"
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build(settings), name=APP_NAME, route_prefix="/")
        for task in closure_tasks(remote_wfs.resumable):
            assert call(endpoint, "POST", "/api/v1/tasks", body_of(task.to_dict()))[0] == 201
        body = workflow_body(remote_wfs.resumable)
        assert call(endpoint, "POST", "/api/v1/workflows", body)[0] == 201
        status, created = call(endpoint, "POST", "/api/v1/executions", {
            "project": PROJECT, "domain": DOMAIN, "name": "outlives",
            "workflow": {"name": body["id"]["name"], "version": body["id"]["version"]},
            "inputs": {"marker_dir": str(markers), "seconds": 3.0}})
        assert status == 201, created
        wait_until(lambda: runs(markers, "started") == 1, timeout_s=60,
                   what="the nap to start")
        serve.delete(APP_NAME)
        serve.run(build(settings), name=APP_NAME, route_prefix="/")
        route = f"/api/v1/executions/{PROJECT}/{DOMAIN}/outlives"
        deadline = time.monotonic() + 60
        while (execution := call(endpoint, "GET", route)[1])["closure"]["phase"] in (
                "QUEUED", "RUNNING"):
            assert time.monotonic() < deadline, execution
            time.sleep(0.2)
        assert execution["closure"]["phase"] == "SUCCEEDED", execution
        assert execution["closure"]["driver_restarts"] == 0
        status, data = call(endpoint, "GET", f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/"
                                              "outlives")
        assert (status, data["outputs"]) == (200, {"o0": 3})
        assert (runs(markers, "a"), runs(markers, "started"), runs(markers, "woke")) == (1, 1, 1)
    finally:
        serve.shutdown()
