"""``flyray get launchplans`` shows each launch plan's schedule and, for the active
version, its next fire times (UTC) and last execution; registration carries schedules."""

from __future__ import annotations

import datetime as dt
import json
import re

from engine.admin_client import AdminClient
from engine.config import Settings
from engine.remote.packages import Found
from engine.remote.registration import plan_registration, register, with_version
from serve.store import AdminStore
from tests.engine.cli.conftest import AdminServer, Flyray
from tests.fixtures import schedule_wfs
from tests.serve.scheduling import HOUR, scheduler

PROJECT, DOMAIN = "flytesnacks", "development"


def test_launch_plans_are_listed_with_their_schedules(flyray: Flyray,
                                                      admin_server: AdminServer) -> None:
    steps = plan_registration(Found(launch_plans={"h": schedule_wfs.hourly,
                                                  "d": schedule_wfs.daily}))
    admin = AdminClient(admin_server.endpoint)
    outcomes = list(register(admin, with_version(steps, PROJECT, DOMAIN, "v1"), None))
    assert {o.status for o in outcomes} == {"new"}
    assert flyray("launchplan", "activate", "stamped_hourly").exit_code == 0

    listed = flyray("get", "launchplans")
    assert listed.exit_code == 0, listed.output
    for header in ("schedule", "next fires (UTC)", "last execution"):
        assert header in listed.output
    assert re.search(r"stamped_hourly\s*│\s*v1\s*│\s*ACTIVE\s*│.*│\s*cron @hourly\s*│"
                     r"\s*\d{4}-\d\d-\d\d \d\d:00:00\s*│", listed.output), listed.output
    assert re.search(r"stamped_daily\s*│\s*v1\s*│\s*INACTIVE\s*│.*│\s*every 1 day\s*│\s*│",
                     listed.output), listed.output

    # Fire the next tick with a scheduler over the server's database.
    store = AdminStore(Settings(home=admin_server.home.parent / "server")
                       .admin_db_url_or_default)
    try:
        now = dt.datetime.now(dt.timezone.utc)
        clock = scheduler(store, admin_server.home)
        clock.tick(now)
        (fired,) = clock.tick(now + HOUR)
    finally:
        store.close()
    (execution,) = fired.executions
    shown = flyray("get", "launchplans", "stamped_hourly")
    assert execution.name in shown.output, shown.output
    as_json = json.loads(flyray("get", "launchplans", "stamped_hourly", "-o", "json").output)
    (schedule,) = as_json["schedules"]
    assert schedule["last_execution"]["name"] == execution.name
    assert len(schedule["next_fire_times"]) == 3
