"""Schedules through the admin API: registering launch plans with a schedule (checked
against the workflow, refused with the reason when bad), listing the active schedules
with their next fire times and last execution, and scheduled executions as the API
shows them. Over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.config import Settings
from serve.app import create_app
from serve.store import AdminStore
from tests.fixtures import launch_plan_wfs, schedule_wfs
from tests.serve.scheduling import HOUR, MINUTE, T0, Now, scheduler
from tests.serve.specs import error_of, launch_plan_body, path_of, register_workflow

LP = "/api/v1/launch_plans"
SCHEDULES = "/api/v1/schedules/flytesnacks/development"
HOURLY = {"cron_schedule": {"schedule": "@HOURLY"}, "kickoff_time_input_arg": "kickoff_time"}


@pytest.fixture
def now() -> Now:
    return Now(T0 + 30 * MINUTE)


@pytest.fixture
def api(store: AdminStore, tmp_path: Path, now: Now) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=tmp_path), store=store, clock=now)) as client:
        yield client


@pytest.fixture
def stamped(api: TestClient) -> dict[str, Any]:
    """The id of the registered workflow stamped(kickoff_time: datetime, label="tick")."""
    return register_workflow(api, schedule_wfs.stamped)


def register(api: TestClient, workflow: dict[str, Any], name: str = "hourly",
             version: str = "v1", expected: int = 201, **spec: Any) -> dict[str, Any]:
    response = api.post(LP, json=launch_plan_body(workflow, name, version, **spec))
    assert response.status_code == expected, response.text
    return dict(response.json())


def activate(api: TestClient, ident: dict[str, Any], state: str = "ACTIVE") -> None:
    response = api.put(f"{LP}/{path_of(ident)}", json={"state": state})
    assert response.status_code == 200, response.text


def test_a_schedule_is_part_of_the_launch_plan_spec(api: TestClient,
                                                    stamped: dict[str, Any]) -> None:
    plan = register(api, stamped, schedule=HOURLY)
    # Stored in its normal form: the alias in lower case, every field written.
    assert plan["spec"]["schedule"] == {
        "cron_schedule": {"schedule": "@hourly", "offset": None},
        "kickoff_time_input_arg": "kickoff_time", "catch_up": True}
    assert register(api, stamped, schedule=HOURLY, expected=200)["spec"] == plan["spec"]
    rate = register(api, stamped, "rate", schedule={
        "rate": {"value": 120, "unit": "MINUTE"}, "kickoff_time_input_arg": "kickoff_time",
        "catch_up": False})
    assert rate["spec"]["schedule"]["rate"] == {"value": 2, "unit": "HOUR"}
    # A schedule cannot be edited: another schedule is another version.
    changed = api.post(LP, json=launch_plan_body(stamped, "hourly", "v1", schedule={
        **HOURLY, "cron_schedule": {"schedule": "@daily"}}))
    assert error_of(changed, 409)["paths"] == ["schedule.cron_schedule.schedule"]


@pytest.mark.parametrize(("schedule", "spec", "expected"), [
    ({"cron_schedule": {"schedule": "61 * * * *"}}, {},
     "its minute field '61' is not valid (allowed: 0-59"),
    ({"cron_schedule": {"schedule": "* * *"}}, {}, "has 3 field(s), not 5"),
    ({"cron_schedule": {"schedule": "@reboot"}}, {}, "unknown definition '@reboot'"),
    ({"cron_schedule": {"schedule": "0 0 30 2 *"}}, {}, "matches no date"),
    ({"cron_schedule": {"schedule": "@daily", "offset": "P1M"}}, {}, "offset 'P1M'"),
    ({"rate": {"value": 30, "unit": "SECOND"}}, {}, "unit one of DAY, HOUR, MINUTE"),
    ({"rate": {"value": 0, "unit": "MINUTE"}}, {}, "value must be a whole number from 1"),
    ({"rate": {"value": 1, "unit": "DAY"}, "cron_schedule": {"schedule": "@daily"}}, {},
     "exactly one of 'cron_schedule'"),
    ({"cron": "* * * * *"}, {}, "unknown field(s) ['cron']"),
    ({"cron_schedule": {"schedule": "@daily"}, "kickoff_time_input_arg": "label"}, {},
     "kickoff_time_input_arg 'label' must be a datetime input"),
    ({"cron_schedule": {"schedule": "@daily"}, "kickoff_time_input_arg": "kickoff_time"},
     {"fixed_inputs": {"kickoff_time": "2030-01-01T00:00:00+00:00"}},
     "cannot also be a fixed input"),
    ({"cron_schedule": {"schedule": "@daily"}}, {},
     "input(s) 'kickoff_time' need a fixed or default value"),
    ({"rate": {"value": 1, "unit": "DAY"}, "catch_up": "yes"}, {}, "catch_up must be True"),
])
def test_bad_schedules_are_refused_with_the_reason(
        api: TestClient, stamped: dict[str, Any], schedule: dict[str, Any],
        spec: dict[str, Any], expected: str) -> None:
    response = api.post(LP, json=launch_plan_body(stamped, "bad", schedule=schedule, **spec))
    message = error_of(response, 400)["message"]
    assert expected in message, message


def test_a_scheduled_launch_plan_needs_values_for_every_input(api: TestClient) -> None:
    greeter = register_workflow(api, launch_plan_wfs.greeter)  # name: str has no default
    response = api.post(LP, json=launch_plan_body(
        greeter, "daily_greeting", schedule={"cron_schedule": {"schedule": "@daily"}}))
    assert "input(s) 'name' need a fixed or default value" in error_of(response, 400)["message"]
    register(api, greeter, "daily_greeting", schedule={"cron_schedule": {"schedule": "@daily"}},
             default_inputs={"name": "you"})


def test_active_schedules_are_listed_with_next_fire_times_and_last_execution(
        api: TestClient, store: AdminStore, stamped: dict[str, Any], now: Now,
        tmp_path: Path) -> None:
    hourly = register(api, stamped, schedule=HOURLY)["id"]
    register(api, stamped, "inactive", schedule=HOURLY)
    register(api, stamped, "unscheduled")  # launched on request only
    assert api.get(SCHEDULES).json() == {"schedules": [], "token": ""}
    activate(api, hourly)

    listed = api.get(SCHEDULES).json()["schedules"]
    assert [s["launch_plan"] for s in listed] == [hourly]
    (item,) = listed
    assert item["description"] == "cron @hourly"
    assert item["schedule"]["cron_schedule"]["schedule"] == "@hourly"
    assert item["next_fire_times"] == ["2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z",
                                       "2030-01-01T13:00:00Z"]
    assert (item["last_fired_at"], item["last_execution"]) == (None, None)

    clock = scheduler(store, tmp_path)
    clock.tick(T0 + 30 * MINUTE)
    (fired,) = clock.tick(T0 + HOUR)
    now.moment = T0 + HOUR + MINUTE
    one = api.get(f"{SCHEDULES}/hourly", params={"count": 2}).json()
    assert one["next_fire_times"] == ["2030-01-01T12:00:00Z", "2030-01-01T13:00:00Z"]
    assert one["last_fired_at"] == "2030-01-01T11:00:00Z"
    assert one["last_execution"] == fired.executions[0].to_dict()

    # The execution says which tick it was made for.
    execution = api.get(f"/api/v1/executions/flytesnacks/development/"
                        f"{fired.executions[0].name}").json()
    assert execution["spec"]["mode"] == "SCHEDULED"
    assert execution["spec"]["scheduled_at"] == "2030-01-01T11:00:00Z"
    assert execution["spec"]["inputs"]["kickoff_time"] == "2030-01-01T11:00:00+00:00"

    activate(api, hourly, "INACTIVE")
    assert error_of(api.get(f"{SCHEDULES}/hourly"), 404)["message"] == (
        "launch plan flytesnacks/development/hourly has no active version with a schedule")
    assert error_of(api.get(f"{SCHEDULES}/hourly", params={"count": 0}), 400)
