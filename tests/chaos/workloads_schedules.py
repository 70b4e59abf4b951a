"""What the scheduler scenarios (F9, F10) share: a scheduled workflow that reports to the
side-effect ledger, a clock the scenario sets, scheduled launch plans of that workflow,
and the exactly-once queries over what the scheduler fired.

The scheduler reads its time from the clock given to the rig (``env.rig(clock=...)``),
never from the machine, so a scenario moves time by whole ticks, crashes or skews it, and
waits for the ticks it expects to appear as executions: no sleeping until a tick.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine import FixedRate, current_context, task, workflow
from engine.dag.spec import Identifier
from serve.app import create_app
from serve.control.launcher import RayLauncher
from serve.control.scheduler import Scheduler
from serve.store import AdminStore
from serve.store._models import ExecutionRow, SchedulerLeaderRow, ScheduleRow
from serve.store.database import aware, db_now
from serve.store.schedules import execution_name
from tests.chaos.ledger import commit, started
from tests.chaos.rig import Rig
from tests.serve.specs import DOMAIN, PROJECT

UTC = dt.timezone.utc
# Far from the machine's time, so a tick fired by the machine's clock would stand out.
T0 = dt.datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


@task(retries=0)
def stamp(ledger: str, kickoff_time: dt.datetime) -> str:
    """The tick's one effect, committed once under the execution's name."""
    key = current_context().execution_id
    started(ledger, key, "stamp")
    commit(ledger, key, "stamp")
    return kickoff_time.isoformat()


@workflow
def stamped(ledger: str, kickoff_time: dt.datetime) -> str:
    """What a schedule fires: the scheduled time arrives as ``kickoff_time``."""
    return stamp(ledger=ledger, kickoff_time=kickoff_time)


class SetClock:
    """The scheduler's clock, set by the scenario (thread-safe: the scheduler's thread
    reads it). ``reads`` counts the readings, so a scenario can wait for the scheduler's
    passes at a time it set instead of sleeping."""

    def __init__(self, moment: dt.datetime) -> None:
        self._moment = moment
        self._reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            self._reads += 1
            return self._moment

    @property
    def now(self) -> dt.datetime:
        with self._lock:
            return self._moment

    @property
    def reads(self) -> int:
        with self._lock:
            return self._reads

    def set(self, moment: dt.datetime) -> None:
        with self._lock:
            self._moment = moment

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock by ``delta`` (negative: back); returns the new time."""
        with self._lock:
            self._moment += delta
            return self._moment


def wait_passes(rig: Rig, clock: SetClock, timeout_s: float = 30.0) -> None:
    """Wait until a whole scheduler pass ran at the clock's current time: three more
    readings (a pass reads the clock as it starts, and once more to time its next)."""
    start = clock.reads
    rig.wait_until(lambda: clock.reads >= start + 3, timeout_s=timeout_s,
                   what="a scheduler pass")


def schedule(rig: Rig, workflow_id: dict[str, Any], name: str, every: dt.timedelta,
             catch_up: bool = True) -> Identifier:
    """Register and activate launch plan ``name`` of :func:`stamped` at a fixed rate
    ``every``, its ledger fixed; returns its id."""
    ident = Identifier.from_dict({**workflow_id, "resource_type": "launch_plan",
                                  "name": name, "version": "v1"})
    rate = FixedRate(every, kickoff_time_input_arg="kickoff_time", catch_up=catch_up)
    rig.store.register_launch_plan({"id": ident.to_dict(), "workflow_id": workflow_id,
                                    "schedule": rate.to_dict(),
                                    "fixed_inputs": {"ledger": str(rig.ledger)}})
    rig.store.set_launch_plan_state(ident, "ACTIVE")
    return ident


def wait_started(rig: Rig, names: list[str], timeout_s: float = 30.0) -> None:
    """Wait until the scheduler started the schedules of ``names`` (their ticks count
    from that pass's time)."""

    def seen(s: Any) -> int:
        return len(list(s.scalars(select(ScheduleRow.name).where(ScheduleRow.name.in_(names)))))

    rig.wait_until(lambda: rig.store.database.run(seen, write=False) == len(names),
                   timeout_s=timeout_s, what=f"the scheduler to start {names}")


def fired(rig: Rig, name: str) -> list[dt.datetime]:
    """The scheduled times of launch plan ``name``'s executions, oldest first (repeats
    kept: there must be none)."""

    def times(s: Any) -> list[dt.datetime]:
        return [aware(t) for t in s.scalars(select(ExecutionRow.scheduled_at).where(
            ExecutionRow.launch_plan_name == name, ExecutionRow.scheduled_at.is_not(None)))]

    return sorted(rig.store.database.run(times, write=False))


def wait_fired(rig: Rig, name: str, expected: list[dt.datetime],
               timeout_s: float = 30.0) -> float:
    """Wait until every time of ``expected`` was fired for ``name``; record their
    executions as accepted (the checker then sees each one finish). Returns the seconds
    it took."""
    took = rig.wait_until(lambda: set(expected) <= set(fired(rig, name)),
                          timeout_s=timeout_s,
                          what=f"{name} to fire {[t.isoformat() for t in expected]}")
    for moment in expected:
        rig.accept(execution_name(PROJECT, DOMAIN, name, moment))
    return took


def duplicate_ticks(rig: Rig) -> list[tuple[Any, ...]]:
    """``SELECT launch_plan_name, scheduled_at, count(*) ... GROUP BY 1, 2 HAVING
    count(*) > 1``: the ticks fired more than once (none, when exactly once holds)."""
    query = (select(ExecutionRow.launch_plan_name, ExecutionRow.scheduled_at, func.count())
             .where(ExecutionRow.scheduled_at.is_not(None))
             .group_by(ExecutionRow.launch_plan_name, ExecutionRow.scheduled_at)
             .having(func.count() > 1))
    return rig.store.database.run(lambda s: [tuple(r) for r in s.execute(query)],
                                  write=False)


def lease(rig: Rig) -> tuple[str, float]:
    """The scheduler lease: its holder, and the seconds left on it by the database's
    clock."""

    def read(s: Any) -> tuple[str, float]:
        row = s.get(SchedulerLeaderRow, 1)
        assert row is not None, "no scheduler lease row"
        return row.holder, (aware(row.expires_at) - db_now(s)).total_seconds()

    return rig.store.database.run(read, write=False)


def scheduler_of(client: TestClient) -> Scheduler:
    """The scheduler of the admin app behind ``client``."""
    app = client.app
    assert isinstance(app, FastAPI)
    found = app.state.scheduler
    assert isinstance(found, Scheduler), "the admin app runs no scheduler"
    return found


@contextlib.contextmanager
def second_admin(rig: Rig, clock: SetClock) -> Iterator[TestClient]:
    """Another admin replica over the rig's database (its own store, supervisor and
    scheduler on ``clock``), as during a redeploy; stopped at the end."""
    store = AdminStore(rig.admin_url)
    client = TestClient(create_app(rig.settings, store=store, launcher=RayLauncher(),
                                   liveness=rig.liveness, clock=clock))
    client.__enter__()
    try:
        yield client
    finally:
        client.__exit__(None, None, None)
        store.close()
