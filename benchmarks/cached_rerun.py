"""A cached re-run: a workflow whose task sleeps 2 s, run again with its result cached.

Measured in one run: the uncached run, the cached (hit) run, a no-op workflow of
the same shape, and the catalog lookup latency on SQLite. Targets: hit run at most
0.1 s beyond the no-op run; lookup p50 <= 2 ms.

    python -m benchmarks.cached_rerun [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import ray

from benchmarks._measure import machine, print_summaries, summary, timed, verdict, write
from engine import task, workflow
from engine.catalog.keys import cache_key
from engine.catalog.store import CatalogStore
from engine.config import load_settings
from engine.dag.executor import run


@task(cache=True, cache_version="bench-1")
def slow(x: int) -> int:
    time.sleep(2)
    return x * 2


@workflow
def cached_wf(x: int) -> int:
    return slow(x=x)


@task
def noop(x: int) -> int:
    return x * 2


@workflow
def noop_wf(x: int) -> int:
    return noop(x=x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="flyray-bench-")
    settings = load_settings({"FLYRAY_HOME": home, "FLYRAY_RAY_ADDRESS": "local"})
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    cached, plain = cached_wf.compile(), noop_wf.compile()
    run(plain, {"x": 0}, settings=settings)  # warm up workers
    miss_s, _ = timed(lambda: run(cached, {"x": 1}, settings=settings))
    hits, noops = [], []
    for _ in range(args.repeat):
        seconds, result = timed(lambda: run(cached, {"x": 1}, settings=settings))
        assert result.record.nodes["n0"].cache_status == "HIT"
        hits.append(seconds)
        noops.append(timed(lambda: run(plain, {"x": 1}, settings=settings))[0])
    ray.shutdown()
    store = CatalogStore(settings.catalog_url_or_default)
    key = cache_key(slow.spec(), {"x": 1}, slow.python_interface.inputs)
    lookups = []
    for _ in range(1000):
        start = time.perf_counter()
        assert store.lookup(key) is not None
        lookups.append((time.perf_counter() - start) * 1000)
    lookups.sort()
    p50, p99 = statistics.median(lookups), lookups[int(len(lookups) * 0.99)]
    hit, noop_s = summary(hits), summary(noops)
    beyond = hit["median"] - noop_s["median"]
    payload = {"machine": machine(), "repeat": args.repeat, "uncached_s": miss_s, "hit_s": hit,
               "noop_s": noop_s, "hit_beyond_noop_s": beyond, "hit_target_s": 0.1,
               "lookup_ms": {"p50": p50, "p99": p99}, "lookup_p50_target_ms": 2.0}
    path = write("cached_rerun", payload)
    print(f"machine: {payload['machine']}")
    print(f"uncached run: {miss_s:.2f} s")
    print_summaries([("cached (hit) run s", hit), ("no-op run s", noop_s)], digits=3)
    print(f"hit run beyond no-op: {beyond * 1000:.0f} ms "
          f"(target <= 100 ms: {verdict(beyond <= 0.1)})")
    print(f"SQLite lookup p50 {p50:.2f} ms, p99 {p99:.2f} ms "
          f"(target p50 <= 2 ms: {verdict(p50 <= 2.0)})")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
