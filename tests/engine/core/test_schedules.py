"""CronSchedule and FixedRate: checked when defined (a bad one says what is wrong), their
JSON form, their fire times in UTC, and launch plans that carry them."""

from __future__ import annotations

import datetime as dt

import pytest

from engine import CronSchedule, FixedRate, LaunchPlan
from engine.dag.spec import ResourceType, schedule_from_dict
from engine.errors import ConfigError
from engine.remote.packages import Found
from engine.remote.registration import plan_registration
from tests.fixtures import schedule_wfs

UTC = dt.timezone.utc
T0 = dt.datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize("expression", ["@hourly", "@daily", "@weekly", "@monthly",
                                        "@yearly", "@annually", "@midnight", "0 * * * *",
                                        "*/15 9-17 * * 1-5", "0 0 1 jan,jul *"])
def test_standard_cron_expressions_and_aliases_are_accepted(expression: str) -> None:
    schedule = CronSchedule(schedule=expression)
    assert schedule.schedule == expression
    assert schedule_from_dict(schedule.to_dict()) == schedule


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"schedule": "61 * * * *"}, "its minute field '61' is not valid (allowed: 0-59"),
    ({"schedule": "0 25 * * *"}, "its hour field '25' is not valid"),
    ({"schedule": "0 0 * 13 *"}, "its month field '13' is not valid"),
    ({"schedule": "0 0 * * funday"}, "its day-of-week field 'funday' is not valid"),
    ({"schedule": "* * *"}, "has 3 field(s), not 5"),
    ({"schedule": "0 0 * * * *"}, "has 6 field(s), not 5"),
    ({"schedule": "@reboot"}, "unknown definition '@reboot'"),
    ({"schedule": "0 0 31 2 *"}, "matches no date"),
    ({}, "schedule is required"),
    ({"cron_expression": "0 12 * * ? *"}, "deprecated AWS form"),
    ({"schedule": "@daily", "offset": "P1M"}, "years and months are not accepted"),
    ({"schedule": "@daily", "offset": "PT0.5S"}, "whole number of seconds"),
    ({"schedule": "@daily", "kickoff_time_input_arg": ""}, "kickoff_time_input_arg must be"),
    ({"schedule": "@daily", "catch_up": "no"}, "catch_up must be True"),
])
def test_a_bad_cron_schedule_fails_at_definition_saying_what_is_wrong(
        kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        CronSchedule(**kwargs)  # type: ignore[arg-type]
    assert expected in str(error.value)
    if "schedule" in kwargs:
        assert repr(kwargs["schedule"]) in str(error.value)  # the expression is named


@pytest.mark.parametrize(("duration", "expected"), [
    (dt.timedelta(seconds=30), "at least one"),
    (dt.timedelta(minutes=1, seconds=30), "whole number of minutes"),
    (dt.timedelta(days=365 * 200), "at most a century"),
    (60, "must be a timedelta"),
])
def test_a_fixed_rate_is_whole_minutes_at_least_one(duration: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        FixedRate(duration=duration)  # type: ignore[arg-type]


def test_json_forms_are_flytes_and_normalised() -> None:
    assert FixedRate(dt.timedelta(days=1), "kickoff_time").to_dict() == {
        "rate": {"value": 1, "unit": "DAY"}, "kickoff_time_input_arg": "kickoff_time",
        "catch_up": True}
    assert FixedRate(dt.timedelta(minutes=90)).to_dict()["rate"] == {"value": 90,
                                                                      "unit": "MINUTE"}
    cron = CronSchedule(schedule=" 0  0 * * 1 ", offset=dt.timedelta(hours=2, minutes=30),
                        catch_up=False)
    assert cron.to_dict() == {"cron_schedule": {"schedule": "0 0 * * 1", "offset": "PT2H30M"},
                              "kickoff_time_input_arg": None, "catch_up": False}
    assert schedule_from_dict(cron.to_dict()) == cron
    assert schedule_from_dict({"rate": {"value": 48, "unit": "HOUR"}}) == FixedRate(
        dt.timedelta(days=2))
    assert CronSchedule(schedule="@daily", offset="-PT5M").offset == dt.timedelta(minutes=-5)
    assert CronSchedule(schedule="@daily", offset="PT0S").offset is None
    with pytest.raises(ConfigError, match="exactly one of"):
        schedule_from_dict({"kickoff_time_input_arg": "x"})


def test_cron_fire_times_are_utc_and_offset() -> None:
    hourly = CronSchedule(schedule="@hourly")
    assert hourly.next_times(T0, T0, 2) == [T0 + HOUR, T0 + 2 * HOUR]
    # Due: after the origin, up to and including until; the latest `limit`, oldest first.
    assert hourly.due_times(T0, T0 + 3 * HOUR, 100) == [T0 + HOUR, T0 + 2 * HOUR,
                                                        T0 + 3 * HOUR]
    assert hourly.due_times(T0, T0 + 3 * HOUR - dt.timedelta(seconds=0.5), 100) == [
        T0 + HOUR, T0 + 2 * HOUR]
    assert hourly.due_times(T0, T0 + 3 * HOUR, 2) == [T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert hourly.due_times(T0, T0 + dt.timedelta(minutes=59), 5) == []
    daily_at_2 = CronSchedule(schedule="@daily", offset="PT2H")
    assert daily_at_2.next_times(T0, T0, 1) == [dt.datetime(2030, 1, 2, 2, tzinfo=UTC)]
    # Times in another zone are the same instants.
    seoul = dt.timezone(dt.timedelta(hours=9))
    assert hourly.next_times(T0, T0.astimezone(seoul), 1) == [T0 + HOUR]
    with pytest.raises(ValueError, match="timezone-aware"):
        hourly.next_times(T0, T0.replace(tzinfo=None), 1)


def test_fixed_rate_fire_times_count_from_the_origin() -> None:
    rate = FixedRate(dt.timedelta(minutes=10))
    start = T0 + dt.timedelta(seconds=7)
    assert rate.next_times(start, start, 2) == [start + dt.timedelta(minutes=10),
                                                start + dt.timedelta(minutes=20)]
    assert rate.next_times(start, start + dt.timedelta(minutes=25), 1) == [
        start + dt.timedelta(minutes=30)]
    assert rate.due_times(start, start + dt.timedelta(minutes=35), 2) == [
        start + dt.timedelta(minutes=20), start + dt.timedelta(minutes=30)]
    assert rate.due_times(start, start, 5) == []


def test_a_launch_plan_carries_its_schedule_into_registration() -> None:
    assert schedule_wfs.hourly.schedule == CronSchedule(
        schedule="@hourly", kickoff_time_input_arg="kickoff_time")
    steps = plan_registration(Found(launch_plans={"h": schedule_wfs.hourly,
                                                  "d": schedule_wfs.daily}))
    plans = {s.id.name: s.spec for s in steps if s.kind is ResourceType.LAUNCH_PLAN}
    assert plans["stamped_hourly"]["schedule"] == schedule_wfs.hourly.schedule.to_dict()
    assert plans["stamped_daily"]["schedule"]["rate"] == {"value": 1, "unit": "DAY"}
    assert plans["stamped_daily"]["fixed_inputs"] == {"label": "daily"}
    # The workflow's default launch plan has none.
    assert plans[schedule_wfs.stamped.name]["schedule"] is None


def test_a_schedule_is_part_of_the_immutable_launch_plan() -> None:
    again = LaunchPlan.get_or_create(
        workflow=schedule_wfs.stamped, name="stamped_hourly",
        schedule=CronSchedule(schedule="@hourly", kickoff_time_input_arg="kickoff_time"))
    assert again is schedule_wfs.hourly
    with pytest.raises(ConfigError, match="immutable"):
        LaunchPlan.get_or_create(workflow=schedule_wfs.stamped, name="stamped_hourly",
                                 schedule=CronSchedule(schedule="@daily",
                                                       kickoff_time_input_arg="kickoff_time"))


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"schedule": CronSchedule(schedule="@daily", kickoff_time_input_arg="label")},
     "kickoff_time_input_arg 'label' must be an input of workflow"),
    ({"schedule": CronSchedule(schedule="@daily", kickoff_time_input_arg="when")},
     "(its inputs: kickoff_time: datetime, label: str)"),
    ({"schedule": CronSchedule(schedule="@daily", kickoff_time_input_arg="kickoff_time"),
      "fixed_inputs": {"kickoff_time": T0}}, "cannot also be a fixed input"),
    ({"schedule": CronSchedule(schedule="@daily")},
     "input(s) 'kickoff_time' need a fixed or default value"),
    ({"schedule": "@daily"}, "must be a CronSchedule or a FixedRate"),
])
def test_a_scheduled_launch_plan_is_checked_against_its_workflow(
        kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        LaunchPlan.get_or_create(workflow=schedule_wfs.stamped, name="bad_schedule",
                                 **kwargs)  # type: ignore[arg-type]
    assert expected in str(error.value)


def test_a_scheduled_launch_plan_needs_a_name_of_its_own() -> None:
    with pytest.raises(ConfigError, match="needs a name of its own"):
        LaunchPlan.get_or_create(workflow=schedule_wfs.stamped,
                                 schedule=FixedRate(dt.timedelta(hours=1), "kickoff_time"))


@pytest.mark.usefixtures("ray_cluster")
def test_a_scheduled_launch_plan_runs_locally_like_its_workflow() -> None:
    assert schedule_wfs.daily(kickoff_time=T0) == "daily at 2030-01-01T10:00:00+00:00"
