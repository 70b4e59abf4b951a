"""The scheduler over the admin store, driven by the times the tests choose (never by
sleeping): cron and fixed-rate ticks fire once each with the kickoff time as an input,
deactivation stops them, a version switch moves them, two schedulers or a restart never
fire a tick twice, and missed ticks follow the catch-up or skip policy. Over SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from engine import CronSchedule, FixedRate
from engine.dag.spec import Identifier
from serve.control.scheduler import ScaledClock
from serve.errors import StoreError
from serve.store import AdminStore
from serve.store._models import ExecutionRow
from serve.store.execution_records import ExecutionMode
from tests.serve.scheduling import (
    HOUR,
    MINUTE,
    T0,
    UTC,
    Now,
    plan,
    register_stamped,
    scheduled,
    scheduler,
    ticks,
)

HOURLY = CronSchedule(schedule="@hourly", kickoff_time_input_arg="kickoff_time")


@pytest.fixture
def workflow_id(store: AdminStore) -> Identifier:
    return register_stamped(store)


def together(calls: Iterable[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads at once; their results, or the first error raised."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            results.append(call())
        except BaseException as e:  # re-raised in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_a_cron_schedule_fires_each_tick_once_with_its_kickoff_time(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path) -> None:
    ident = plan(store, workflow_id, HOURLY)
    clock = scheduler(store, tmp_path)
    assert clock.tick(T0) == []  # the pass that first sees the activation starts it
    assert clock.tick(T0 + 30 * MINUTE) == []
    fired = clock.tick(T0 + HOUR)
    assert [f.times for f in fired] == [[T0 + HOUR]]
    assert clock.tick(T0 + HOUR) == clock.tick(T0 + HOUR + MINUTE) == []
    clock.tick(T0 + 2 * HOUR + dt.timedelta(seconds=0.5))

    first, second = scheduled(store)
    assert (first.scheduled_at, second.scheduled_at) == (T0 + HOUR, T0 + 2 * HOUR)
    assert first.launch_plan == ident and first.mode is ExecutionMode.SCHEDULED
    assert first.inputs == {"kickoff_time": "2030-01-01T11:00:00+00:00", "label": "tick"}
    assert second.inputs["kickoff_time"] == "2030-01-01T12:00:00+00:00"
    # Its driver is to be started.
    assert [t.execution for t in fired[0].tickets] == [first.id]


def test_a_fixed_rate_fires_every_duration_after_it_starts(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path) -> None:
    plan(store, workflow_id, FixedRate(MINUTE, kickoff_time_input_arg="kickoff_time"),
         fixed_inputs={"label": "rate"})
    clock = scheduler(store, tmp_path)
    start = T0 + dt.timedelta(seconds=7)
    clock.tick(start)
    clock.tick(start + dt.timedelta(seconds=59))
    assert ticks(store) == []
    clock.tick(start + MINUTE)
    clock.tick(start + dt.timedelta(seconds=150))
    assert ticks(store) == [start + MINUTE, start + 2 * MINUTE]
    assert scheduled(store)[0].inputs == {"kickoff_time": "2030-01-01T10:01:07+00:00",
                                          "label": "rate"}


def test_deactivation_stops_firing_and_reactivation_starts_over(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path) -> None:
    ident = plan(store, workflow_id, HOURLY)
    clock = scheduler(store, tmp_path)
    clock.tick(T0)
    clock.tick(T0 + HOUR)
    store.set_launch_plan_state(ident, "INACTIVE")
    for hours in (2, 3, 4):
        assert clock.tick(T0 + hours * HOUR) == []
    # Active again at 14:10: the hours it was inactive are not missed ticks.
    store.set_launch_plan_state(ident, "ACTIVE")
    clock.tick(T0 + 4 * HOUR + 10 * MINUTE)
    clock.tick(T0 + 5 * HOUR)
    assert ticks(store) == [T0 + HOUR, T0 + 5 * HOUR]


def test_activating_another_version_moves_the_schedule_without_repeating_a_tick(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path) -> None:
    plan(store, workflow_id, HOURLY)
    # The same times, written another way: another spec, so another version.
    same = CronSchedule(schedule="0 * * * *", kickoff_time_input_arg="kickoff_time")
    v2 = plan(store, workflow_id, same, version="v2", activate=False)
    v3 = plan(store, workflow_id, CronSchedule(schedule="*/30 * * * *",
                                               kickoff_time_input_arg="kickoff_time"),
              version="v3", activate=False)
    clock = scheduler(store, tmp_path)
    clock.tick(T0)
    clock.tick(T0 + HOUR)  # v1 fires 11:00
    store.set_launch_plan_state(v2, "ACTIVE")
    clock.tick(T0 + HOUR + dt.timedelta(seconds=1))  # v2 does not fire 11:00 again
    clock.tick(T0 + 2 * HOUR - dt.timedelta(seconds=0.5))
    # v3 is activated just before 12:00 and seen just after: 12:00 fires, from v3.
    store.set_launch_plan_state(v3, "ACTIVE")
    clock.tick(T0 + 2 * HOUR + dt.timedelta(seconds=0.5))
    clock.tick(T0 + 2 * HOUR + 30 * MINUTE)
    fired = scheduled(store)
    assert [(e.scheduled_at, e.launch_plan.version) for e in fired  # type: ignore[union-attr]
            ] == [(T0 + HOUR, "v1"), (T0 + 2 * HOUR, "v3"), (T0 + 2.5 * HOUR, "v3")]


def test_two_schedulers_over_one_database_fire_each_tick_once(
        store: AdminStore, admin_url: str, workflow_id: Identifier, tmp_path: Path) -> None:
    plan(store, workflow_id, CronSchedule(schedule="*/10 * * * *",
                                          kickoff_time_input_arg="kickoff_time"))
    other_store = AdminStore(admin_url)
    try:
        # A lease of 0 s: whichever ticks takes over, as if the other had just died.
        first = scheduler(store, tmp_path, lease_s=0.0)
        second = scheduler(other_store, tmp_path, lease_s=0.0)
        for k in range(13):
            together(lambda s=s, k=k: s.tick(T0 + k * 5 * MINUTE) for s in (first, second))
    finally:
        other_store.close()
    assert ticks(store) == [T0 + k * 10 * MINUTE for k in range(1, 7)]


def test_concurrent_fires_of_one_schedule_make_one_execution_per_tick(
        store: AdminStore, admin_url: str, workflow_id: Identifier) -> None:
    """The store's guarantee, whatever the scheduler does: here without a lease."""
    plan(store, workflow_id, CronSchedule(schedule="* * * * *",
                                          kickoff_time_input_arg="kickoff_time"))
    (scheduled_plan,) = store.scheduled_plans()
    store.fire_schedule(scheduled_plan, T0, T0, 100)  # starts the schedule at T0
    (scheduled_plan,) = store.scheduled_plans()
    stores = [AdminStore(admin_url) for _ in range(4)]
    try:
        results = together(lambda s=s: s.fire_schedule(scheduled_plan, T0 + 5 * MINUTE, T0,
                                                       100) for s in stores)
    finally:
        for s in stores:
            s.close()
    assert sorted(t for r in results for t in r.times) == [T0 + k * MINUTE for k in range(1, 6)]
    assert ticks(store) == [T0 + k * MINUTE for k in range(1, 6)]


def test_the_database_refuses_a_second_execution_of_a_tick(
        store: AdminStore, admin_url: str, workflow_id: Identifier, tmp_path: Path) -> None:
    plan(store, workflow_id, HOURLY)
    clock = scheduler(store, tmp_path)
    clock.tick(T0)
    clock.tick(T0 + HOUR)
    # Another execution (another name) of the same launch plan name and tick.
    with pytest.raises(IntegrityError), store.database.session(write=True) as s:
        row = s.scalars(select(ExecutionRow)).one()
        columns = {c.key: getattr(row, c.key) for c in ExecutionRow.__table__.columns
                   if c.key != "pk"}
        s.add(ExecutionRow(**{**columns, "name": "copy"}))
        s.flush()


@pytest.mark.parametrize(("catch_up", "max_catch_up", "expected_hours"), [
    (True, 100, [1, 2, 3, 4, 5, 6]),
    (True, 3, [1, 4, 5, 6]),
    (False, 100, [1, 6]),
])
def test_a_restart_after_downtime_applies_the_schedule_policy(
        store: AdminStore, admin_url: str, workflow_id: Identifier, tmp_path: Path,
        catch_up: bool, max_catch_up: int, expected_hours: list[int]) -> None:
    plan(store, workflow_id, CronSchedule(schedule="@hourly", catch_up=catch_up,
                                          kickoff_time_input_arg="kickoff_time"))
    before = scheduler(store, tmp_path)
    before.tick(T0)
    before.tick(T0 + HOUR)
    before.stop()  # gives up its lease (it never started a thread)
    # Down from 11:00 to 16:20; a new process (its own store) starts.
    restarted_store = AdminStore(admin_url)
    try:
        after = scheduler(restarted_store, tmp_path, max_catch_up=max_catch_up)
        fired = after.tick(T0 + 6 * HOUR + 20 * MINUTE)
        assert after.tick(T0 + 6 * HOUR + 21 * MINUTE) == []
    finally:
        restarted_store.close()
    assert ticks(store) == [T0 + h * HOUR for h in expected_hours]
    # Missed ticks are fired oldest first.
    assert [t for f in fired for t in f.times] == [T0 + h * HOUR for h in expected_hours[1:]]


def test_a_scheduler_that_died_is_replaced_after_its_lease(
        store: AdminStore, admin_url: str, workflow_id: Identifier, tmp_path: Path) -> None:
    plan(store, workflow_id, HOURLY)
    dead = scheduler(store, tmp_path, lease_s=3600.0)
    dead.tick(T0)
    dead.tick(T0 + HOUR)  # ... and dies without giving up the lease
    other_store = AdminStore(admin_url)
    try:
        waiting = scheduler(other_store, tmp_path)
        assert waiting.tick(T0 + 2 * HOUR) == []  # the lease is not over
        assert ticks(store) == [T0 + HOUR]
        with store.database.session(write=True) as s:  # ... and now it is
            s.execute(text("UPDATE admin_scheduler_leader SET expires_at = :t"),
                      {"t": dt.datetime(2000, 1, 1, tzinfo=UTC)})
        waiting.tick(T0 + 2 * HOUR)
        waiting.tick(T0 + 2 * HOUR)
    finally:
        other_store.close()
    assert ticks(store) == [T0 + HOUR, T0 + 2 * HOUR]


def test_a_schedule_whose_launch_fails_does_not_stop_the_others(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan(store, workflow_id, HOURLY, name="good")
    plan(store, workflow_id, HOURLY, name="bad")
    clock = scheduler(store, tmp_path)
    clock.tick(T0)
    original = store.fire_schedule

    def failing(p: Any, *args: Any, **kwargs: Any) -> Any:
        if p.id.name == "bad":
            raise StoreError("the database said no")
        return original(p, *args, **kwargs)

    def failing_together(plans: list[Any], *args: Any, **kwargs: Any) -> Any:
        if any(p.id.name == "bad" for p in plans):
            raise StoreError("the database said no")
        raise AssertionError("not reached: 'bad' is due with 'good'")

    monkeypatch.setattr(store, "fire_schedule", failing)
    monkeypatch.setattr(store, "fire_schedules", failing_together)
    clock.tick(T0 + HOUR)
    assert ticks(store, "good") == [T0 + HOUR] and ticks(store, "bad") == []
    monkeypatch.undo()
    clock.tick(T0 + HOUR + MINUTE)  # the failed tick fires on the next pass
    assert ticks(store, "bad") == [T0 + HOUR]


def test_the_scheduler_wakes_when_the_next_tick_falls_due(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path) -> None:
    plan(store, workflow_id, HOURLY)
    now = Now(T0)
    clock = scheduler(store, tmp_path, clock=now)
    clock.tick()
    clock.tick()  # knows the next tick: 11:00
    now.moment = T0 + HOUR - dt.timedelta(seconds=0.25)
    assert clock._delay() == 0.25
    now.moment = T0 + 30 * MINUTE
    assert clock._delay() == clock.interval_s  # never longer than a pass interval
    # A clock ten times as fast: a quarter of a clock second is 25 real milliseconds.
    fast = ScaledClock(start=T0 + HOUR - dt.timedelta(seconds=0.25), speed=10.0,
                       origin=time.time())
    clock.clock = fast
    assert 0 <= clock._delay() <= 0.025


def test_a_scaled_clock_runs_faster_than_real_time() -> None:
    clock = ScaledClock(start=T0, speed=60.0, origin=time.time() - 2)
    assert T0 + 2 * MINUTE <= clock() < T0 + 3 * MINUTE
    with pytest.raises(ValueError, match="timezone-aware"):
        ScaledClock(start=T0.replace(tzinfo=None))


def test_a_tick_due_for_many_launch_plans_fires_them_in_a_few_transactions(
        store: AdminStore, workflow_id: Identifier, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"many_{i:02d}" for i in range(60)]
    for name in names:
        plan(store, workflow_id, HOURLY, name=name)
    clock = scheduler(store, tmp_path)
    clock.tick(T0)
    calls: list[int] = []
    original = store.fire_schedules

    def counted(plans: list[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(plans))
        return original(plans, *args, **kwargs)

    monkeypatch.setattr(store, "fire_schedules", counted)
    fired = clock.tick(T0 + HOUR)
    assert sorted(calls) == [10, 50]  # batches of 50, not one transaction per plan
    assert len(fired) == 60
    assert all(ticks(store, name) == [T0 + HOUR] for name in names)
