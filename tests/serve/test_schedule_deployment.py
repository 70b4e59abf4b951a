"""End to end: the admin app on Ray Serve (the session's shared cluster) fires a
one-minute fixed-rate schedule on a clock that runs 30 times as fast as real time, and
its executions run with their scheduled time as the kickoff input."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from engine.admin_client import AdminClient
from engine.config import Settings
from serve.control.scheduler import ScaledClock
from tests.fixtures import schedule_wfs
from tests.serve.conftest import kill_executors
from tests.serve.specs import launch_plan_body, path_of
from tests.servers import free_port

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
SPEED = 30.0  # a scheduled minute every two seconds
ACTIVE = ("QUEUED", "RUNNING")


def register(admin: AdminClient) -> dict[str, Any]:
    spec = schedule_wfs.stamped.compile().spec
    for task in spec.tasks.values():
        admin.post("/api/v1/tasks", {"id": task.id.to_dict(), "spec": task.to_dict()})
    workflow = spec.id.to_dict()
    admin.post("/api/v1/workflows", {"id": workflow, "spec": spec.to_dict()})
    body = launch_plan_body(workflow, "every_minute", fixed_inputs={"label": "minutely"},
                            schedule={"rate": {"value": 1, "unit": "MINUTE"},
                                      "kickoff_time_input_arg": "kickoff_time"})
    admin.post("/api/v1/launch_plans", body)
    return dict(body["id"])


def executions(admin: AdminClient) -> list[dict[str, Any]]:
    reply = admin.get("/api/v1/executions/flytesnacks/development",
                      launch_plan="every_minute")
    return sorted(reply["executions"], key=lambda e: e["spec"]["scheduled_at"])


def all_ended(admin: AdminClient) -> list[dict[str, Any]] | None:
    found = executions(admin)
    return found if all(e["closure"]["phase"] not in ACTIVE for e in found) else None


def wait_for(condition: Any, what: str, timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


@pytest.mark.timeout(240)
def test_the_serve_app_fires_a_fixed_rate_schedule(ray_cluster: None, tmp_path: Path) -> None:
    from ray import serve

    from serve.deployment import start

    endpoint = f"http://127.0.0.1:{free_port()}"
    admin = AdminClient(endpoint)
    try:
        start(Settings(home=tmp_path, admin_endpoint=endpoint),
              clock=ScaledClock(start=T0, speed=SPEED))
        plan = register(admin)
        admin.put(f"/api/v1/launch_plans/{path_of(plan)}", {"state": "ACTIVE"})
        wait_for(lambda: len(executions(admin)) >= 2, "two scheduled executions")
        admin.put(f"/api/v1/launch_plans/{path_of(plan)}", {"state": "INACTIVE"})
        ended = wait_for(lambda: all_ended(admin), "the executions to end")
        for execution in ended:
            assert execution["closure"]["phase"] == "SUCCEEDED", execution
            assert execution["spec"]["mode"] == "SCHEDULED"
            name = execution["id"]["name"]
            outputs = admin.get(f"/api/v1/data/executions/flytesnacks/development/{name}")
            kickoff = execution["spec"]["inputs"]["kickoff_time"]
            assert outputs["outputs"]["o0"] == f"minutely at {kickoff}"
            moment = dt.datetime.fromisoformat(kickoff)
            assert moment == dt.datetime.fromisoformat(
                execution["spec"]["scheduled_at"].replace("Z", "+00:00"))
            assert moment > T0 and moment.microsecond == 0
        times = [dt.datetime.fromisoformat(e["spec"]["inputs"]["kickoff_time"])
                 for e in ended]
        assert {b - a for a, b in itertools.pairwise(times)} == {dt.timedelta(minutes=1)}
    finally:
        serve.shutdown()
        kill_executors()
