"""F2. A worker node removed mid-run (its raylet and every process on it SIGKILLed).

Inject: two ``chain`` executions, each driven by an executor of its own (capacity 1),
the first's executor on the worker node, the second's on the head. Flyray's task
resources have no custom resources, so the steps are put on the worker node by taking
the head's CPUs for the run-up (a placeholder actor holds them); once both nodes b nap
there, the placeholder goes and the worker node is removed, then added back so the
cluster is whole for the next scenario.

Expected: the execution whose executor lived on the node has its driver replaced (on
another executor; ``driver_restarts`` 1) and resumes from the database: node a is not
run again, node b's lost attempt is ended as a SYSTEM failure and b runs again. The
other execution's executor lives on: Ray reports b's worker lost with its node, and the
attempt is retried as a SYSTEM failure (its input, node a's output, was on the lost node
too). Both succeed. Assert: I1–I8, and per execution b's attempts and the restarts.
"""

from __future__ import annotations

import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from serve.control.launcher import NAMESPACE, executor_name
from serve.control.launching import ExecutorKey
from serve.driver.executor import Executor, ExecutorSpec
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import Rig
from tests.chaos.workloads import chain
from tests.serve.specs import DOMAIN, PROJECT

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F2", "worker node removed mid-run", 150


@ray.remote(num_cpus=0)
class _Placeholder:
    """Holds CPUs of the node it is pinned to (its ``num_cpus`` is set at creation)."""

    def ready(self) -> bool:
        return True


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    rounds = 5 if full else 1
    began = time.monotonic()
    total = Verdict()
    recoveries: list[float | None] = []
    for r in range(rounds):
        verdict, recovered = _round(env, f"f2-{r}")
        recoveries.append(recovered)
        total.add(verdict)
    took = [t for t in recoveries if t is not None]
    return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", rounds, total,
                          recovery_s=max(took, default=None),
                          duration_s=time.monotonic() - began,
                          figures={"executions": total.accepted, "nodes_removed": rounds})


def _round(env: ChaosEnv, prefix: str) -> tuple[Verdict, float | None]:
    """One removal of the worker node under two executions; the node is back after."""
    with env.rig(warm_executors=0, executor_capacity=1) as rig:
        _pin_executors(rig, [_node_id(worker=True), _node_id(worker=False)])
        ident = rig.register(chain)
        placeholder = _hold_head_cpus()
        try:
            names = [rig.launch(ident, f"{prefix}-{i}", seconds=60.0) for i in range(2)]
            for name in names:
                rig.wait_until(lambda name=name: rig.ledger.running_pid(name, "b") is not None,
                               timeout_s=60, what=f"{name}'s node b to start")
        finally:
            ray.kill(placeholder)
        fault_at = time.time()
        try:
            env.cluster.remove_worker()
        finally:
            env.cluster.add_worker()
        verdict = check_nothing_lost(rig, timeout_s=90, fault_at=fault_at,
                                     recovery_bound_s=30)
        _check(rig, verdict, names)
        return verdict, recovery_s(rig, fault_at)


def _node_id(worker: bool) -> str:
    from tests.chaos.cluster import WORKER_RESOURCE

    for node in ray.nodes():
        if node["Alive"] and (WORKER_RESOURCE in node["Resources"]) == worker:
            return str(node["NodeID"])
    raise AssertionError(f"no alive {'worker' if worker else 'head'} node in {ray.nodes()}")


def _pin_executors(rig: Rig, nodes: list[str]) -> None:
    """Start the executors of slots 0, 1, ... on ``nodes`` before anything launches
    (the launcher takes an executor that exists by its name): as the launcher would
    start them (capacity 1, so the second execution goes to slot 1), but pinned."""
    key = ExecutorKey(rig.store.url, PROJECT, DOMAIN, None)
    live = rig.liveness
    handles = []
    for slot, node in enumerate(nodes):
        name = executor_name(key, slot)
        spec = ExecutorSpec(name, key, warm=False, capacity=live.executor_capacity,
                            idle_s=live.executor_idle_s, heartbeat_s=live.heartbeat_s)
        handles.append(Executor.options(  # type: ignore[attr-defined]
            name=name, namespace=NAMESPACE, lifetime="detached", max_concurrency=32,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
        ).remote(spec))
    ray.get([h.driving.remote() for h in handles], timeout=60)


def _hold_head_cpus() -> Any:
    """A placeholder holding every CPU of the head, so tasks go to the worker node."""
    cpus = ray.cluster_resources().get("CPU", 0.0) - _worker_cpus()
    holder = _Placeholder.options(  # type: ignore[attr-defined]
        num_cpus=cpus, scheduling_strategy=NodeAffinitySchedulingStrategy(
            _node_id(worker=False), soft=False)).remote()
    ray.get(holder.ready.remote(), timeout=60)
    return holder


def _worker_cpus() -> float:
    from tests.chaos.cluster import WORKER_RESOURCE

    return sum(float(n["Resources"].get("CPU", 0.0)) for n in ray.nodes()
               if n["Alive"] and WORKER_RESOURCE in n["Resources"])


def _check(rig: Rig, verdict: Verdict, names: list[str]) -> None:
    """Node b's lost attempts are SYSTEM failures, its last one succeeded; the execution
    whose executor was on the node had its driver replaced once, the other none; node a
    ran once (its success was recorded before the fault)."""
    restarts = sorted(rig.execution(n)["closure"]["driver_restarts"] for n in names)
    if restarts != [0, 1]:
        verdict.fail("F2", f"driver restarts {restarts}: expected one execution's driver "
                     "replaced (its executor was on the node) and the other's kept")
    starts = rig.ledger.starts()
    for name in names:
        attempts = rig.nodes(name)["n1"]["attempts"]
        kinds = [(a["outcome"], a["error"] and a["error"]["kind"]) for a in attempts]
        # While the node goes, a retry may fail too (its input was on the node): SYSTEM.
        if len(kinds) < 2 or kinds[-1] != ("SUCCEEDED", None) \
                or any(k != ("FAILED", "SYSTEM") for k in kinds[:-1]):
            verdict.fail("F2", f"{name}: node b's attempts were {kinds}")
        if starts[(name, "a")] != 1:
            verdict.fail("F2", f"{name}: node a ran {starts[(name, 'a')]} times")
