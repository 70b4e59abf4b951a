"""F14. The whole Ray cluster stopped and started again mid-run (the admin, whose
database survives, restarted around it).

Inject, while ``chain`` executions' nodes b nap:

- without a drain: the cluster is stopped (every executor, task and object with it) and
  a new one started, as after a crash of the machine;
- drained first: ``POST /api/v1/executors/drain`` (what ``flyray demo stop`` does) hands
  the executions back, then the same restart.

Expected: once the admin runs again its supervisor launches every execution on the new
cluster, and each resumes from the database: node a (recorded SUCCEEDED) is not run
again, node b runs again, nothing is lost or done twice. Without a drain the lost driver
counts as a restart (``driver_restarts`` 1) and b's lost attempt ends as a SYSTEM
failure; a drained execution was handed back, not lost (``driver_restarts`` 0). The
chaos cluster is up again when the scenario returns. Assert: I1–I8 and the above.
"""

from __future__ import annotations

import time
from typing import Any

from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import Rig
from tests.chaos.workloads import chain

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F14", "cluster restarted mid-run", 150


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    rounds, count = (2, 3) if full else (1, 1)
    began = time.monotonic()
    drained: list[str] = []
    crashed: list[str] = []
    restarts_s: list[float] = []
    recoveries: list[float | None] = []
    with env.rig() as rig:
        ident = rig.register(chain)
        for r in range(rounds):
            for drain in (False, True):
                names = [rig.launch(ident, f"f14{'d' if drain else 'c'}-{r}-{i}",
                                    seconds=60.0) for i in range(count)]
                fault_at, took = _restart(env, rig, names, drain)
                restarts_s.append(took)
                (drained if drain else crashed).extend(names)
                rig.wait(names, timeout_s=90)
                recoveries.append(recovery_s(rig, fault_at))
        verdict = check_nothing_lost(rig, timeout_s=90)
        _check(rig, verdict, crashed, drained)
        took_all = [t for t in recoveries if t is not None]
        if len(took_all) < len(recoveries):
            verdict.fail("I8", "no progress after a cluster restart")
        return ScenarioResult(
            SCENARIO, TITLE, "full" if full else "smoke", len(restarts_s), verdict,
            recovery_s=max(took_all, default=None), duration_s=time.monotonic() - began,
            figures={"executions": len(rig.accepted), "cluster_restarts": len(restarts_s),
                     "restart_s": max(restarts_s), "drained": len(drained)})


def _restart(env: ChaosEnv, rig: Rig, names: list[str], drain: bool) -> tuple[float, float]:
    """Once every node b of ``names`` naps: (drain, then) restart the cluster with the
    admin down; returns when the fault began and how long the restart took."""
    for name in names:
        rig.wait_until(lambda name=name: rig.ledger.running_pid(name, "b") is not None,
                       timeout_s=60, what=f"{name}'s node b to start")
    fault_at = time.time()
    if drain:
        response = rig.client.post("/api/v1/executors/drain", json={"timeout_s": 30})
        assert response.status_code == 200, response.text
        released = response.json()["released"]
        assert released == len(names), f"drain handed back {released} of {len(names)}"
    start = time.monotonic()
    with rig.stopped():
        env.cluster.restart()
    return fault_at, time.monotonic() - start


def _check(rig: Rig, verdict: Verdict, crashed: list[str], drained: list[str]) -> None:
    """Node a ran once; node b's last attempt succeeded after those that did not; a crash
    costs one driver restart and b's lost attempts are SYSTEM failures, a drain neither."""
    starts = rig.ledger.starts()
    for name in crashed + drained:
        closure: dict[str, Any] = rig.execution(name)["closure"]
        expected = 1 if name in crashed else 0
        if closure["driver_restarts"] != expected:
            verdict.fail("F14", f"{name}: driver_restarts {closure['driver_restarts']}, "
                         f"expected {expected}")
        if starts[(name, "a")] != 1:
            verdict.fail("F14", f"{name}: node a ran {starts[(name, 'a')]} times")
        attempts = rig.nodes(name)["n1"]["attempts"]
        kinds = [(a["outcome"], a["error"] and a["error"]["kind"]) for a in attempts]
        # A crash: the driver may outlive the worker node by a moment, see its task's
        # node die (one SYSTEM failure) and start another attempt that is lost with it
        # (a second): every attempt before the last is a SYSTEM failure (the ledger's
        # I5 bounds how often b's body ran). A drain: b's stopped attempt, then one.
        lost = kinds[:-1]
        if len(kinds) < 2 or kinds[-1] != ("SUCCEEDED", None) \
                or any(k[0] == "SUCCEEDED" for k in lost) \
                or (name in crashed and any(k != ("FAILED", "SYSTEM") for k in lost)) \
                or (name in drained and len(kinds) != 2):
            verdict.fail("F14", f"{name}: node b's attempts were {kinds}: "
                         + " | ".join(str(a["error"] and a["error"]["message"])[:200]
                                      for a in attempts))
