"""F10. Clock skew: the scheduler's clock jumps forward and back.

Inject: two launch plans of ``stamped`` at a fixed rate (20 minutes in the smoke
variant, one minute in the full one), one catching up missed ticks (the default), one
firing only the latest (``catch_up=False``), on a clock the scenario sets (the
scheduler's ``clock`` seam; the machine's clock and the database's are untouched). After
a first tick the clock jumps +1 h, then -5 min, then on to the next tick. Meanwhile an
admin replica whose clock is a day ahead runs next to the leader.

Expected: the forward jump fires the missed ticks under each policy (every one; only the
latest); the backward jump fires nothing again (a tick's execution is named after it and
the schedule remembers its last fire); the skewed replica cannot take the lease, which
runs on the database's clock (it would fire a day of ticks if it did); durations are
never negative.
Assert: I1–I8 (I3: no attempt ends before it starts), F9's exactly-once query, the fired
times equal the expected ones, the lease holder unchanged and its expiry seconds away on
the database's clock (not in the scheduler's 2030), no execution ending before it started.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from serve.store._models import ExecutionRow
from serve.store.database import aware
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost
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
    wait_passes,
    wait_started,
)

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F10", "clock skew", 120

CATCH_UP, LATEST = "f10-catch-up", "f10-latest"
HOUR, BACK, AHEAD = dt.timedelta(hours=1), dt.timedelta(minutes=-5), dt.timedelta(days=1)


def _check_lease(verdict: Verdict, rig: Rig, holder: str, seen: tuple[str, float]) -> None:
    """The lease ``seen`` while the skewed replica ran was ``holder``'s, expiring
    seconds after the database's now."""
    held, left = seen
    if held != holder:
        verdict.fail("F10", f"the scheduler lease moved from {holder} to {held}")
    if not 0 < left <= scheduler_of(rig.client).lease_s:
        verdict.fail("F10", f"the scheduler lease expires {left:.0f} s from the database's "
                     "now: it is not on the database's clock")


def _durations(verdict: Verdict, rig: Rig) -> None:
    rows = rig.store.database.run(lambda s: list(s.execute(select(
        ExecutionRow.name, ExecutionRow.started_at, ExecutionRow.ended_at))), write=False)
    for name, started, ended in rows:
        if started is not None and ended is not None and aware(ended) < aware(started):
            verdict.fail("F10", f"execution {name} ended before it started")


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    every = dt.timedelta(minutes=1 if full else 20)
    clock = SetClock(T0)
    with env.rig(clock=clock) as rig:
        ident = rig.register(stamped)
        schedule(rig, ident, CATCH_UP, every)
        schedule(rig, ident, LATEST, every, catch_up=False)
        wait_started(rig, [CATCH_UP, LATEST])
        first = clock.advance(every)
        expected = {CATCH_UP: [first], LATEST: [first]}
        for name, times in expected.items():
            wait_fired(rig, name, times)
        holder = scheduler_of(rig.client).holder

        jumped = clock.advance(HOUR)  # forward: catch up under each policy
        expected[CATCH_UP] += [first + every * k for k in range(1, HOUR // every + 1)]
        expected[LATEST].append(jumped)
        catch_up_s = max(wait_fired(rig, name, times) for name, times in expected.items())

        clock.advance(BACK)  # backward: nothing fires again
        wait_passes(rig, clock)
        repeated = {name: fired(rig, name) for name in expected}

        ahead = SetClock(jumped + AHEAD)
        with second_admin(rig, ahead):
            wait_passes(rig, ahead)
            seen = lease(rig)
        following = jumped + every  # on to the next tick
        clock.set(following)
        for name, times in expected.items():
            times.append(following)
            wait_fired(rig, name, times)

        verdict = check_nothing_lost(rig, timeout_s=120 if full else 60)
        for name, times in repeated.items():
            if times != expected[name][:-1]:
                verdict.fail("F10", f"{name} fired {[t.isoformat() for t in times]} after "
                             "the clock went back")
        _check_lease(verdict, rig, holder, seen)
        _durations(verdict, rig)
        for plan, at, count in duplicate_ticks(rig):
            verdict.fail("F10", f"launch plan {plan} fired {at} {count} times")
        for name, times in expected.items():
            got = fired(rig, name)
            if got != times:
                verdict.fail("F10", f"{name} fired {[t.isoformat() for t in got]}, "
                             f"expected {[t.isoformat() for t in times]}")
        return ScenarioResult(
            SCENARIO, TITLE, "full" if full else "smoke", 3, verdict,
            duration_s=time.monotonic() - began,
            figures={"executions": sum(len(t) for t in expected.values()),
                     "caught_up_ticks": HOUR // every, "catch_up_s": round(catch_up_s, 3)},
            notes=f"fixed rate {every}; jumps +1 h, -5 min, and a replica {AHEAD} ahead")
