"""F4. The Serve controller, a replica and the proxy killed under load.

Inject: the admin runs on Ray Serve on the chaos cluster (2 replicas, one proxy on the
head). A bounded client load (16 threads, a fixed number of calls: each creates one
execution of ``chain`` under a fixed name, then reads its status, retrying until
answered) runs while the scenario kills, each once the load has moved on since the last:
Serve's controller (``ray.kill(..., no_restart=False)``: Ray restarts it), one replica
(``no_restart=True``: the controller replaces it) and the proxy.

Expected: the API keeps serving while the controller is down (the replicas and the
proxy run without it); calls that fail meanwhile are retried and a retried create finds
the execution its first try made, so none is made twice; the new controller adopts the
running replicas (same names); every accepted execution succeeds. Assert: I1–I8, no
call left unanswered, the replicas re-adopted. Figures: answers per second, the 5xx
and unanswered attempts from the first kill on (and per fault, with how long calls kept
failing after it), p95 of a call (retries included) begun before and after the first kill.
"""

from __future__ import annotations

import threading
import time

import ray
from ray import serve

from tests.chaos.api_load import ApiLoad
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.workloads import chain

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F4", "Serve controller, replica and proxy killed", 150

SERVE_NAMESPACE = "serve"
CONTROLLER = "SERVE_CONTROLLER_ACTOR"
PROXY_PREFIX = "SERVE_PROXY_ACTOR"
REPLICA_PREFIX = "SERVE_REPLICA::"


def _serve_actors(prefix: str) -> list[str]:
    """Names of Serve's live named actors that start with ``prefix``."""
    return sorted(entry["name"] for entry in ray.util.list_named_actors(all_namespaces=True)
                  if entry["namespace"] == SERVE_NAMESPACE
                  and entry["name"].startswith(prefix))


def _kill(name: str, restart: bool) -> None:
    ray.kill(ray.get_actor(name, namespace=SERVE_NAMESPACE), no_restart=not restart)


def _controller_answers() -> bool:
    try:
        serve.status()
    except Exception:  # noqa: BLE001 - still restarting: any failure means "not yet"
        return False
    return True


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    per_thread = 12 if full else 4
    threads = 16
    began = time.monotonic()
    with env.served_rig(replicas=2) as rig:
        ident = rig.register(chain)
        load = ApiLoad(rig)
        names = [f"f4-{i}" for i in range(per_thread * threads)]

        def job(name: str) -> None:
            if load.create(rig.body(ident, name, seconds=0.0)):
                load.phase(name)

        loader = threading.Thread(target=load.run, args=([lambda n=n: job(n)
                                                          for n in names], threads))
        loaded_at = time.monotonic()
        loader.start()

        def moved_on(share: float) -> bool:
            return not loader.is_alive() or len(rig.accepted) >= share * len(names)

        rig.wait_until(lambda: moved_on(0.25), timeout_s=120, what="a quarter of the load")
        replicas = _serve_actors(REPLICA_PREFIX)
        kills = [time.time()]
        faulted = time.monotonic()
        _kill(CONTROLLER, restart=True)
        rig.wait_until(_controller_answers, timeout_s=60, what="Serve's controller back")
        rig.wait_until(lambda: moved_on(0.5), timeout_s=120, what="half of the load")
        adopted = _serve_actors(REPLICA_PREFIX)
        kills.append(time.time())
        _kill(replicas[0], restart=False)
        rig.wait_until(lambda: moved_on(0.75), timeout_s=120, what="3/4 of the load")
        proxies = _serve_actors(PROXY_PREFIX)
        kills.append(time.time())
        _kill(proxies[0], restart=True)
        loader.join()
        loaded_s = time.monotonic() - loaded_at
        rig.wait_until(load.serving, timeout_s=60, what="the API served again")
        fault_at = kills[0]
        windows = list(zip(("controller", "replica", "proxy"), kills,
                           [*kills[1:], float("inf")], strict=True))

        verdict = check_nothing_lost(rig, timeout_s=120, fault_at=fault_at,
                                     recovery_bound_s=60)
        if set(replicas) - set(adopted):
            verdict.fail("F4", f"the restarted controller did not adopt replicas "
                         f"{sorted(set(replicas) - set(adopted))} (had {adopted})")
        for problem in load.gave_up + load.refused:
            verdict.fail("F4", problem)
        # The errors of the headline: calls from the first kill on that a client saw
        # fail at least once (each was retried until answered: none was lost).
        calls, retried = load.retried(since=faulted)
        return ScenarioResult(
            SCENARIO, TITLE, "full" if full else "smoke", 3, verdict,
            recovery_s=recovery_s(rig, fault_at), api_requests=calls,
            api_errors=retried, duration_s=time.monotonic() - began,
            figures={"requests_per_s": len(load.calls) / loaded_s,
                     "failed_attempts": load.errors(since=fault_at),
                     "executions": len(names),
                     "p95_s_before": load.p95_s(until=faulted),
                     "p95_s_faults": load.p95_s(since=faulted),
                     "throttled": load.throttled(),
                     **{f"errors_{what}": load.errors(since, until)
                        for what, since, until in windows},
                     **{f"failing_s_{what}": load.failing_s(since, until)
                        for what, since, until in windows}},
            notes=f"replicas {replicas}, proxy {proxies[0]}")
