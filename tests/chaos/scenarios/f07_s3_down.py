"""F7. The S3 endpoint down, then slow and flaky.

Inject, down: S3 (moto) is stopped while a node of ``slow_large`` naps, so its output
(over the offload threshold: it goes to S3 by URI) is written while S3 is down; S3
starts again on the same port, state kept, ``outage_s`` later. Slow and flaky: the
blob store is reached through :class:`tests.chaos.proxy.FlakyProxy`, which delays
every chunk and resets every few connections, while ``large`` executions run.
Expected: blob I/O is retried (by the blob store, within a deadline, or by a system
retry of the node), never a user error, never a hang; nothing partial is referenced;
every execution succeeds once S3 answers again. Assert: I1–I8.
"""

from __future__ import annotations

import time

from engine import task, workflow
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost, recovery_s
from tests.chaos.ledger import commit, started, starts
from tests.chaos.proxy import FlakyProxy
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import Rig
from tests.chaos.workloads import large, measure

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F7", "S3 down, slow or flaky", 150
SIZE = 2 << 20  # over the 1 MiB offload threshold: stored in S3, passed by URI


@task(retries=0)
def slow_blob(ledger: str, key: str, size: int, seconds: float) -> bytes:
    """``size`` bytes, made after a nap on the first run (the window for the fault)."""
    first = starts(ledger, key, "blob") == 0
    started(ledger, key, "blob")
    if first:
        time.sleep(seconds)
    commit(ledger, key, "blob")
    return bytes(range(256)) * (size // 256)


@workflow
def slow_large(ledger: str, key: str, size: int, seconds: float) -> int:
    """``slow_blob``'s bytes measured by the next node. Returns ``size``."""
    return measure(ledger=ledger, key=key,
                   data=slow_blob(ledger=ledger, key=key, size=size, seconds=seconds))


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    outage_s = 10.0 if full else 3.0
    count = 3 if full else 1
    with env.rig(blob="s3") as rig:
        verdict, fault_at = _down(env, rig, count, outage_s)
        recovered = recovery_s(rig, fault_at)
    with FlakyProxy(env.s3.port, delay_s=0.02, reset_every=4) as proxy, \
            env.rig_over({**env.blob_settings("s3", env.root),
                          "s3_endpoint_url": proxy.url}) as rig:
        flaky = _flaky(rig, 4 if full else 2)
        figures = {"outage_s": outage_s, "proxy_connections": proxy.connections,
                   "proxy_resets": proxy.resets}
    verdict.violations += [f"flaky: {v}" for v in flaky.violations]
    verdict.accepted += flaky.accepted
    verdict.succeeded += flaky.succeeded
    verdict.reexecuted += flaky.reexecuted
    return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", count + 1, verdict,
                          recovery_s=recovered, duration_s=time.monotonic() - began,
                          figures=figures)


def _down(env: ChaosEnv, rig: Rig, count: int, outage_s: float) -> tuple[Verdict, float]:
    """S3 stopped while ``count`` nodes nap before writing their outputs."""
    ident = rig.register(slow_large)
    names = [rig.launch(ident, f"f7-down-{i}", size=SIZE, seconds=2.0) for i in range(count)]
    for name in names:
        rig.wait_until(lambda name=name: rig.ledger.running_pid(name, "blob") is not None,
                       timeout_s=60, what=f"{name}'s first node to start")
    fault_at = time.time()
    env.s3.stop()
    try:
        time.sleep(outage_s)  # the outage itself: its length is the fault
    finally:
        env.s3.start()
    verdict = check_nothing_lost(rig, timeout_s=120, fault_at=fault_at,
                                 recovery_bound_s=outage_s + 30)
    for name in names:
        for node_id, node in rig.nodes(name).items():
            kinds = {a["error"]["kind"] for a in node["attempts"] if a["error"]}
            if "USER" in kinds:
                verdict.fail("F7", f"{name} node {node_id}: the outage was blamed on the "
                             "user's code")
    return verdict, fault_at


def _flaky(rig: Rig, count: int) -> Verdict:
    ident = rig.register(large)
    for i in range(count):
        rig.launch(ident, f"f7-flaky-{i}", size=SIZE)
    return check_nothing_lost(rig, timeout_s=120)
