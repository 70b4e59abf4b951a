"""The scheduler: fires the active launch plan versions that have a schedule, at their
times, as executions of mode SCHEDULED with the scheduled time in the kickoff input.

A daemon thread of the admin app (started next to the supervisor) runs a pass every
``interval_s`` (1 s), so an activation or deactivation takes effect within a second or
two, and sooner when the next known tick falls due, so ticks fire on time. Times are
UTC and read from an injectable :data:`Clock`: tests drive :meth:`Scheduler.tick` with
the times they choose, or give the app a :class:`ScaledClock`, and never sleep until a
schedule's time.

Exactly once (see ``serve.store.schedules``): a tick's execution is named after the
launch plan name and the scheduled time, under unique keys, and written with the
schedule's last fire time in one transaction; of several admin replicas one scheduler
leads (a lease in the database) and the others wait. After downtime the missed ticks
follow the schedule's policy: ``catch_up=True`` (the default, Flyte's) fires every missed
tick oldest first, at most ``max_catch_up`` (the most recent ones); ``catch_up=False``
fires only the most recent one. Ticks are never fired twice.

A newly activated version (the first, another version of the name, or the same one
again) counts its ticks from the scheduler's previous pass when that was at most
``activation_grace`` earlier (so a tick falling between the activation and the pass that
sees it still fires), else from the pass that sees it; and never from before the last
tick fired under the name, so a version switch does not repeat a tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.failpoints import hit
from serve.control.executions import ExecutionService
from serve.errors import AdminError
from serve.store.schedule_records import Fired, ScheduledPlan

log = logging.getLogger(__name__)

# Launch plans fired in one transaction when a tick is due for many at once.
_BATCH = 50

# The scheduler's clock: the current time, timezone-aware (UTC).
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The default clock: the machine's, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class ScaledClock:
    """A clock that reads ``start`` at the wall-clock instant ``origin`` (epoch seconds,
    default: when it is made) and runs ``speed`` times as fast as real time: with
    ``speed=60`` a one-minute schedule fires every second. Plain data, so it travels to
    a Serve replica (``serve.deployment.build(settings, clock=...)``); for tests and
    demos."""

    start: dt.datetime
    speed: float = 1.0
    origin: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError(f"ScaledClock: start must be timezone-aware (UTC), got "
                             f"{self.start.isoformat()}")
        if not self.speed > 0:
            raise ValueError(f"ScaledClock: speed must be > 0, got {self.speed}")

    def __call__(self) -> dt.datetime:
        elapsed = (time.time() - self.origin) * self.speed
        return self.start.astimezone(dt.timezone.utc) + dt.timedelta(seconds=elapsed)


def next_fire_times(plan: ScheduledPlan, now: dt.datetime, count: int = 3) -> list[dt.datetime]:
    """The next ``count`` fire times of ``plan`` after ``now`` (a version the scheduler
    has not seen yet counts from ``now``, as it will, within a pass)."""
    state = plan.current
    origin = state.origin if state is not None else now
    return plan.schedule.next_times(origin, max(origin, now), count)


class Scheduler:
    """Fires due schedules in :meth:`tick`, every ``interval_s`` in a daemon thread.

    Args:
        service: the executions it creates are launched through it.
        clock: the current time (default: the machine's clock, UTC).
        interval_s: seconds between passes.
        lease_s: the leader lease (seconds of the database's clock): a scheduler that
            dies without resigning is replaced after this long.
        max_catch_up: most ticks one schedule fires in a pass (catch-up after downtime
            fires the most recent ones, oldest first).
        activation_grace: how far back a new activation may count from (see above).
    """

    def __init__(self, service: ExecutionService, clock: Clock = utc_now, *,
                 interval_s: float = 1.0, lease_s: float = 10.0, max_catch_up: int = 100,
                 activation_grace: dt.timedelta = dt.timedelta(seconds=5)) -> None:
        self.service = service
        self.clock = clock
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.max_catch_up = max_catch_up
        self.activation_grace = activation_grace
        self.holder = uuid.uuid4().hex  # this scheduler's name in the leader lease
        self._last_pass: dt.datetime | None = None
        # (version, activation, origin) -> the first tick after origin: cron arithmetic
        # is not free, and most passes find nothing due.
        self._next: dict[tuple[int, dt.datetime, dt.datetime], dt.datetime] = {}
        # The earliest next tick known after the last pass (None: unknown).
        self._wake_at: dt.datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="flyray-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread and give up the lease, so another scheduler takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.service.store.resign_scheduler(self.holder)
        except AdminError:  # the database is gone: the lease simply runs out
            log.warning("scheduler: could not give up the leader lease", exc_info=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a failed pass (database down) is tried again later
                log.exception("scheduler: this pass failed")
                self._wake_at = None
            self._stop.wait(self._delay())

    def _delay(self) -> float:
        """Seconds to the next pass: the interval, or less when a tick falls due sooner
        (so ticks fire on time, not up to a pass late). A clock that runs fast says so
        by its ``speed`` (as :class:`ScaledClock` does)."""
        if self._wake_at is None:
            return self.interval_s
        speed = float(getattr(self.clock, "speed", 1.0)) or 1.0
        until = (self._wake_at - self.clock()).total_seconds() / speed
        return min(self.interval_s, max(0.0, until))

    def tick(self, now: dt.datetime | None = None) -> list[Fired]:
        """One pass at ``now`` (default: the clock): fire every due tick of every active
        schedule, when this scheduler leads. Returns what was fired."""
        now = self.clock() if now is None else now
        if now.tzinfo is None:
            raise ValueError(f"the scheduler's clock must give timezone-aware times (UTC), "
                             f"got {now.isoformat()}")
        now = now.astimezone(dt.timezone.utc)  # stored times are UTC
        store = self.service.store
        if not store.lead_scheduler(self.holder, self.lease_s):
            self._last_pass = self._wake_at = None
            return []
        anchor = self._anchor(now)
        memo = self._next
        self._next = {}
        due = [plan for plan in store.scheduled_plans() if self._due(plan, now, memo)]
        results: list[Fired | None] = []
        for start in range(0, len(due), _BATCH):
            results += self._fire_batch(due[start:start + _BATCH], now, anchor)
        fired = [r for r in results if r is not None and r.times]
        self._last_pass = now
        self._wake_at = min(self._next.values(), default=None)
        return fired

    def _fire_batch(self, plans: list[ScheduledPlan], now: dt.datetime,
                    anchor: dt.datetime) -> list[Fired | None]:
        """Fire the due ticks of ``plans`` in one transaction; when that fails, one plan
        at a time, so one broken schedule does not stop the others."""
        if len(plans) > 1:
            try:
                results = self.service.store.fire_schedules(
                    plans, now, anchor, self.max_catch_up,
                    self.service.settings.blob_root_uri,
                    self.service.liveness.max_starting_drivers)
            except AdminError:
                log.warning("scheduler: firing %d launch plans together failed; firing "
                            "them one by one", len(plans))
            else:
                return [self._fired(plan, result) for plan, result in zip(plans, results,
                                                                           strict=True)]
        return [self._fire(plan, now, anchor) for plan in plans]

    def _fire(self, plan: ScheduledPlan, now: dt.datetime,
              anchor: dt.datetime) -> Fired | None:
        """Fire ``plan``'s due ticks and hand their drivers over to be started; None when
        the store failed (the next pass tries again)."""
        try:
            result = self.service.store.fire_schedule(
                plan, now, anchor, self.max_catch_up, self.service.settings.blob_root_uri,
                self.service.liveness.max_starting_drivers)
        except AdminError:  # one broken schedule does not stop the others
            log.exception("scheduler: firing launch plan %s failed", plan.id)
            self._forget_next(plan)
            return None
        return self._fired(plan, result)

    def _forget_next(self, plan: ScheduledPlan) -> None:
        state = plan.current
        if state is not None:  # its due tick was fired (or tried): no longer the next one
            self._next.pop((plan.pk, plan.activation, state.origin), None)

    def _fired(self, plan: ScheduledPlan, result: Fired) -> Fired:
        """Note what firing ``plan`` did, and hand its drivers over to be started."""
        self._forget_next(plan)
        if result.times:
            log.info("scheduler: launch plan %s fired %s as %s", plan.id,
                     ", ".join(t.isoformat() for t in result.times),
                     ", ".join(e.name for e in result.executions))
            last = result.times[-1]
            self._next[(plan.pk, plan.activation, last)] = plan.schedule.next_times(
                last, last, 1)[0]
        # A crash here leaves committed ticks with no driver: the supervisor starts them.
        hit("scheduler.after_commit")
        self.service.launch(result.tickets)
        return result

    def _anchor(self, now: dt.datetime) -> dt.datetime:
        """Where a version activated since the last pass counts its ticks from (in whole
        seconds: a fixed rate's times are then whole seconds too)."""
        last = self._last_pass
        if last is not None and dt.timedelta(0) <= now - last <= self.activation_grace:
            return last.replace(microsecond=0)
        return now.replace(microsecond=0)

    def _due(self, plan: ScheduledPlan, now: dt.datetime,
             memo: dict[tuple[int, dt.datetime, dt.datetime], dt.datetime]) -> bool:
        """Whether ``plan`` has a tick due at ``now``, or is an activation to start."""
        state = plan.current
        if state is None:
            return True
        key = (plan.pk, plan.activation, state.origin)
        following = memo.get(key)
        if following is None:
            following = plan.schedule.next_times(state.origin, state.origin, 1)[0]
        self._next[key] = following
        return following <= now
