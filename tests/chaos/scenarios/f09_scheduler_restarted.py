"""F9. The scheduler restarted around a tick: every tick fires exactly once.

Inject: a launch plan of ``stamped`` on a one-minute fixed rate, on a clock the scenario
sets. At each failpoint of a fire the scheduler crashes (``raise`` on every pass, so it
stays down like a dead process; an in-process scheduler cannot be SIGKILLed without the
test) and the admin is restarted after 0 or more ticks of downtime:

- ``scheduler.before_insert``: before the tick's execution is written;
- ``scheduler.after_insert``: the execution written, the schedule's last fire time not
  yet (they commit together, so the crash loses both);
- ``scheduler.after_commit``: both committed, the execution's driver not yet started.

Then two admins at once (a redeploy): one leads, the other takes over when it stops.
Expected: exactly one execution per (launch plan, scheduled time); the ticks missed while
down are fired at the restart (catch-up, the default policy); an execution whose driver
was never started is started by the supervisor; every one succeeds.
Assert: I1–I8 (every expected tick accepted), F9's ``GROUP BY ... HAVING count(*) > 1``
returns no rows, and the fired times equal the expected ones.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import Rig
from tests.chaos.workloads_schedules import (
    T0,
    SetClock,
    duplicate_ticks,
    fired,
    lease,
    schedule,
    scheduler_of,
    second_admin,
    stamped,
    wait_fired,
    wait_started,
)

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F9", "scheduler restarted around a tick", 120

PLAN = "f9-every-minute"
RATE = dt.timedelta(minutes=1)
POINTS = ("scheduler.before_insert", "scheduler.after_insert", "scheduler.after_commit")
# (failpoint, ticks of downtime) per crash.
SMOKE = [(POINTS[0], 0), (POINTS[1], 2), (POINTS[2], 1)]
FULL = [(point, down) for point in POINTS for down in (0, 3, 10)]


class Ticks:
    """The clock moved by whole ticks, and the times the scenario expects fired."""

    def __init__(self, clock: SetClock) -> None:
        self.clock = clock
        self.expected: list[dt.datetime] = []

    def advance(self, count: int) -> None:
        start = self.clock.now
        self.expected += [start + RATE * (i + 1) for i in range(count)]
        self.clock.advance(RATE * count)


def _crash(env: ChaosEnv, rig: Rig, ticks: Ticks, point: str,
           downtime: int) -> tuple[int, float]:
    """The scheduler crashes at ``point`` on the next tick and stays down (every pass
    fails) until the admin restarts, ``downtime`` ticks later. Returns the failed passes
    and when the restarted admin was up (``time.time()``)."""
    env.set_failpoints({point: {"action": "raise", "times": 1000}})
    ticks.advance(1)
    rig.wait_until(lambda: env.fired(point) >= 1, what=f"failpoint {point} to fire")
    with rig.stopped():
        failed = env.fired(point)
        env.set_failpoints({})
        ticks.advance(downtime)
    return failed, time.time()


def _two_admins(rig: Rig, clock: SetClock, ticks: Ticks) -> tuple[float, bool]:
    """Two admins over one database fire each tick once; when the leader stops, the
    other takes over. Returns the seconds the takeover took, and whether the other
    admin then held the lease."""
    with second_admin(rig, clock) as other:
        ticks.advance(1)
        wait_fired(rig, PLAN, ticks.expected)
        with rig.stopped():
            ticks.advance(1)
            took = wait_fired(rig, PLAN, ticks.expected)
            holder, _ = lease(rig)
    return took, holder == scheduler_of(other).holder


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    clock = SetClock(T0)
    crashes = FULL if full else SMOKE
    with env.rig(db="postgresql" if full else "sqlite", clock=clock) as rig:
        schedule(rig, rig.register(stamped), PLAN, RATE)
        wait_started(rig, [PLAN])
        ticks = Ticks(clock)
        ticks.advance(1)
        wait_fired(rig, PLAN, ticks.expected)
        # Recovery (I8) counts from the restart: the downtime before it is the scenario's.
        refire_s: list[float] = []
        failed_passes, restarted = 0, time.time()
        for point, downtime in crashes:
            failed, restarted = _crash(env, rig, ticks, point, downtime)
            failed_passes += failed
            refire_s.append(wait_fired(rig, PLAN, ticks.expected))
        takeover_s, took_over = _two_admins(rig, clock, ticks)
        verdict = check_nothing_lost(rig, timeout_s=120 if full else 60, fault_at=restarted,
                                     recovery_bound_s=30)
        if not took_over:
            verdict.fail("F9", "the leader stopped, yet the second admin's scheduler did "
                         "not take the lease over")
        for plan, at, count in duplicate_ticks(rig):
            verdict.fail("F9", f"launch plan {plan} fired {at} {count} times")
        got = fired(rig, PLAN)
        if got != ticks.expected:
            verdict.fail("F9", f"fired {[t.isoformat() for t in got]}, expected "
                         f"{[t.isoformat() for t in ticks.expected]}")
        return ScenarioResult(
            SCENARIO, TITLE, "full" if full else "smoke", len(crashes), verdict,
            recovery_s=recovery_s(rig, restarted), duration_s=time.monotonic() - began,
            figures={"ticks": len(ticks.expected), "executions": len(got),
                     "crashes": len(crashes), "failed_passes": failed_passes,
                     "restart_to_fire_s_median": round(statistics.median(refire_s), 3),
                     "restart_to_fire_s_max": round(max(refire_s), 3),
                     "takeover_s": round(takeover_s, 3)},
            notes=f"crashes (failpoint, ticks down): {crashes}; then two admins at once")
