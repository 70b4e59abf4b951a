"""F1. A task's worker process SIGKILLed mid-task.

Inject: the middle node of ``chain`` naps on its first run; once the ledger shows its
body started, the scenario SIGKILLs that worker process (the pid the body logged).
Expected: Ray reports the worker lost, the attempt is recorded FAILED with kind SYSTEM
and retried from the system-retry budget (the task has ``retries=0``), the execution
succeeds. Assert: I1–I8, and each killed node has exactly two attempts, the first a
SYSTEM failure naming the lost worker.
"""

from __future__ import annotations

import os
import signal
import time

from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.workloads import chain

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F1", "worker killed mid-task", 120


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    count = 5 if full else 1
    began = time.monotonic()
    with env.rig() as rig:
        ident = rig.register(chain)
        names = [rig.launch(ident, f"f1-{i}", seconds=60.0) for i in range(count)]
        fault_at = time.time()
        for name in names:
            pid = 0

            def napping(name: str = name) -> bool:
                nonlocal pid
                pid = rig.ledger.running_pid(name, "b") or 0
                return bool(pid)

            rig.wait_until(napping, timeout_s=60, what=f"{name}'s node b to start")
            fault_at = time.time()
            os.kill(pid, signal.SIGKILL)
        verdict = check_nothing_lost(rig, timeout_s=90, fault_at=fault_at,
                                     recovery_bound_s=30)
        for name in names:
            attempts = rig.nodes(name)["n1"]["attempts"]
            kinds = [(a["outcome"], a["error"] and a["error"]["kind"]) for a in attempts]
            if kinds != [("FAILED", "SYSTEM"), ("SUCCEEDED", None)]:
                verdict.fail("F1", f"{name}: node b's attempts were {kinds}")
        return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", count, verdict,
                              recovery_s=recovery_s(rig, fault_at),
                              duration_s=time.monotonic() - began)
