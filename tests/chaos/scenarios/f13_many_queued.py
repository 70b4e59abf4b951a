"""F13. Many queued executions drained.

Inject: N executions of ``chain`` (three trivial nodes, no nap) created through the admin
on Ray Serve (2 replicas) by 16 client threads at once, each create retried under its
name until answered; the smoke variant lowers the launch rate limit so that some creates
are refused with 429 and waited out. The full variant (N = 1,000, the default limits)
also kills, once a third of the executions have ended, the worker node, then every
executor (the supervisor relaunches their executions on new ones).

Expected: every execution SUCCEEDED; backpressure shows as QUEUED executions or 429
answers (retried after ``Retry-After``), never as errors; the admin database holds N
executions. Assert: I1–I7 over all N (I7: no executor drives an ended execution), no
5xx or unanswered create (without faults), exactly N rows. Figures: ``executions``,
``drained_s`` (first create to last terminal), executions per second, the peak number
of QUEUED executions, 429 answers.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select

from serve.store._models import ExecutionRow
from tests.chaos.api_load import ApiLoad
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import TERMINAL, Rig, kill_executors
from tests.chaos.workloads import chain

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F13", "many queued executions drained", 150

# Smoke: a launch bucket of 10 refilled at 10/s per replica, so 60 creates from 16
# threads meet 429s; full: the default limits (20/s, bursts of 200).
SMOKE_LIMITS = {"admin_launch_rate_limit": 10.0, "admin_launch_rate_burst": 10}


def _count(rig: Rig) -> dict[str, int]:
    """Executions of ``rig``'s database by phase."""
    found = rig.store.database.run(
        lambda s: list(s.execute(select(ExecutionRow.phase, func.count())
                                 .group_by(ExecutionRow.phase))), write=False)
    return {str(phase): int(count) for phase, count in found}


def _ended(counts: dict[str, int]) -> int:
    return sum(counts.get(phase, 0) for phase in TERMINAL)


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    total = 1000 if full else 60
    began = time.monotonic()
    limits: dict[str, Any] = {} if full else SMOKE_LIMITS
    with env.served_rig(replicas=2, **limits) as rig:
        ident = rig.register(chain)
        load = ApiLoad(rig, give_up_s=300.0 if full else 60.0)
        names = [f"f13-{i}" for i in range(total)]
        loader = threading.Thread(target=load.run, args=(
            [lambda n=n: load.create(rig.body(ident, n, seconds=0.0)) for n in names],))
        first = time.monotonic()
        loader.start()
        peak_queued, faults, fault_at, submitted_s = 0, 0, None, 0.0
        deadline = first + (900 if full else 100)
        while time.monotonic() < deadline:
            counts = _count(rig)
            if not loader.is_alive():
                submitted_s = submitted_s or time.monotonic() - first
                if _ended(counts) >= total:
                    break
            peak_queued = max(peak_queued, counts.get("QUEUED", 0))
            if full and not faults and _ended(counts) > total / 3:
                fault_at = time.time()
                env.cluster.remove_worker()
                kill_executors()
                env.cluster.add_worker()
                faults = 2
            time.sleep(0.2)
        drained_s = time.monotonic() - first
        loader.join()

        verdict = check_nothing_lost(rig, timeout_s=120,
                                     max_extra_starts=1 if faults else 0)
        rows = sum(_count(rig).values())
        if rows != total:
            verdict.fail("F13", f"{rows} executions in the database, {total} created")
        errors = load.errors()
        if errors and not faults:
            verdict.fail("F13", f"{errors} create attempts answered 5xx or not at all")
        for problem in load.gave_up + load.refused:
            verdict.fail("F13", problem)
        return ScenarioResult(
            SCENARIO, TITLE, "full" if full else "smoke", faults, verdict,
            recovery_s=None if fault_at is None else recovery_s(rig, fault_at),
            api_requests=len(load.attempts), api_errors=errors,
            duration_s=time.monotonic() - began,
            figures={"executions": total, "drained_s": drained_s,
                     "executions_per_s": total / drained_s, "submitted_s": submitted_s,
                     "peak_queued": peak_queued, "throttled": load.throttled(),
                     "p95_create_s": load.p95_s()})
