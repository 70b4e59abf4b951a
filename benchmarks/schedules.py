"""The scheduler with 100 active schedules: how late each tick is fired (p50, p99), and
what a pass that finds nothing due costs.

100 launch plans fire every minute (cron ``* * * * *``) on a scheduler clock that runs
``SPEED`` times as fast as real time, so a minute's ticks come every few real seconds;
lateness is measured in real time: from the real instant a tick falls due to the
execution's creation (the database's clock). The scheduler runs as in the admin app (a
thread, a pass every second) over the embedded SQLite database; the executions it
creates are handed to a launcher that only records them, so the figure is the
scheduler's and the database's, not Ray's start of 100 drivers at once. Target: p99
within 2 s (a pass a second, and the time to create a tick's executions).

    python -m benchmarks --only schedules
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._config import RunConfig
from benchmarks._measure import BenchmarkError
from benchmarks._report import Figure, Outcome, Row
from engine import CronSchedule, task, workflow
from engine.dag.spec import Identifier, ResourceType
from serve.control.executions import ExecutionService
from serve.control.launching import DriverTicket, Liveness
from serve.control.scheduler import ScaledClock, Scheduler
from serve.store import AdminStore, ListOptions
from serve.store.execution_records import ExecutionId, ExecutionMode

NAME = "schedules"
REPEATS = 1
SCHEDULES = 100
SPEED = 10.0  # a scheduled minute every 6 real seconds
P99_TARGET_MS = 2000.0
START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
IDLE_PASSES = 20


@task
def mark(kickoff_time: dt.datetime) -> str:
    return kickoff_time.isoformat()


@workflow
def marked(kickoff_time: dt.datetime) -> str:
    return mark(kickoff_time=kickoff_time)


class _Recorder:
    """A launcher that runs nothing: the executions' drivers are not the subject."""

    def launch(self, ticket: DriverTicket) -> None:
        pass

    def stop(self, execution: ExecutionId, launch: int, cause: str, timeout_s: float) -> bool:
        return True

    def is_alive(self, execution: ExecutionId, launch: int) -> bool:
        return True

    def kill(self, execution: ExecutionId, launch: int) -> None:
        pass


def _register(store: AdminStore) -> None:
    spec = marked.compile().spec
    for used in spec.tasks.values():
        store.register_task(used)
    store.register_workflow(spec)
    schedule = CronSchedule(schedule="* * * * *", kickoff_time_input_arg="kickoff_time")
    for i in range(SCHEDULES):
        ident = Identifier(ResourceType.LAUNCH_PLAN, spec.id.project, spec.id.domain,
                           f"every_minute_{i:03d}", "v1")
        store.register_launch_plan({"id": ident.to_dict(), "workflow_id": spec.id.to_dict(),
                                    "schedule": schedule.to_dict()})
        store.set_launch_plan_state(ident, "ACTIVE")


def _lateness_ms(store: AdminStore, clock: ScaledClock) -> list[float]:
    """Real milliseconds from each tick's due instant to its execution's creation."""
    late: list[float] = []
    token = ""
    while True:
        page = store.list_executions("flytesnacks", "development",
                                     options=ListOptions(limit=1000, token=token))
        for e in page.items:
            if e.mode is not ExecutionMode.SCHEDULED or e.scheduled_at is None:
                continue
            due = clock.origin + (e.scheduled_at - clock.start).total_seconds() / clock.speed
            late.append((e.created_at.timestamp() - due) * 1000)
        token = page.token
        if not token:
            return late


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure(cfg: RunConfig) -> Outcome:
    minutes = 3 if cfg.quick else 8
    with tempfile.TemporaryDirectory(prefix="flyray-schedules-") as home:
        store = AdminStore(f"sqlite:///{Path(home) / 'admin.db'}")
        try:
            _register(store)
            service = ExecutionService(store, _Recorder(), cfg.settings, Liveness())
            # The first tick falls due 3 real seconds after the scheduler starts.
            clock = ScaledClock(start=START - dt.timedelta(seconds=3 * SPEED), speed=SPEED)
            scheduler = Scheduler(service, clock)
            scheduler.start()
            time.sleep(3 + (minutes - 0.5) * 60 / SPEED)
            scheduler.stop()
            late = _lateness_ms(store, clock)
            idle = []
            for k in range(IDLE_PASSES):  # after the last tick fired, before the next
                moment = START + dt.timedelta(minutes=minutes - 1, seconds=30 + k)
                began = time.perf_counter()
                if scheduler.tick(moment):
                    raise BenchmarkError(f"{NAME}: a pass at {moment} fired a tick")
                idle.append((time.perf_counter() - began) * 1000)
        finally:
            store.close()
    expected = SCHEDULES * minutes
    if len(late) != expected:
        raise BenchmarkError(f"{NAME}: {len(late)} scheduled executions, expected {expected} "
                             f"({SCHEDULES} schedules x {minutes} ticks)")
    p50, p99 = statistics.median(late), _percentile(late, 0.99)
    lateness = Figure(p50, min(late), max(late), "ms", len(late),
                      text=f"p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    pass_ms = Figure.of(idle, "ms")
    return Outcome([
        Row(NAME, f"fire lateness, {SCHEDULES} active schedules", lateness, None,
            f"p99 <= {P99_TARGET_MS:g} ms (ours; #8 sets none)", f"p50 {p50:.0f}, p99 {p99:.0f} ms",
            p99 <= P99_TARGET_MS,
            note=f"{len(late)} ticks ({minutes} per schedule) of cron '* * * * *' on a clock "
                 f"{SPEED:g}x real time; a pass a second; SQLite"),
        Row(NAME, f"scheduler pass with nothing due, {SCHEDULES} schedules", pass_ms, None,
            "none in #8", f"{pass_ms.median:.1f} ms", None,
            note=f"{len(idle)} passes: read the active schedules, nothing to fire"),
    ], {"lateness_ms": late, "idle_pass_ms": idle, "speed": SPEED})
