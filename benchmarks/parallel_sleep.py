"""Eight independent tasks that each sleep 1 s and ask for a quarter of a CPU.

flytekit's local run takes them one after another (~8.8 s); on Ray they run side by
side once the cluster has 8 x 0.25 = 2 logical CPUs. Target: Flyray >= 5x faster
than flytekit's local run. Raw Ray runs the same eight naps with num_cpus=0.25.

    python -m benchmarks.parallel_sleep   # the same as: python -m benchmarks --only parallel_sleep
"""

from __future__ import annotations

import sys
import time

import ray

from benchmarks._config import RunConfig
from benchmarks._measure import check, interleaved
from benchmarks._report import Figure, Outcome, Row
from engine import Resources, task, workflow

NAME = "parallel_sleep"
REPEATS = 3  # each run sleeps at least a second
TASKS = 8
CPU = 0.25
TARGET_SPEEDUP = 5.0


@task(requests=Resources(cpu="250m"))
def nap(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return i


@workflow
def naps(seconds: float) -> list[int]:
    return [nap(i=i, seconds=seconds) for i in range(TASKS)]


def measure(cfg: RunConfig) -> Outcome:
    seconds = 0.5 if cfg.quick else 1.0
    raw_nap = ray.remote(num_cpus=CPU)(nap.fn)
    runs = {"ray": lambda: ray.get([raw_nap.remote(i, seconds) for i in range(TASKS)]),
            "flyray": lambda: naps(seconds=seconds)}
    expected = list(range(TASKS))

    def verify(name: str, out: object) -> None:
        check(f"{NAME} ({name})", out, expected)

    interleaved(runs, 1, verify)  # warm-up: start the workers, compile the workflow
    times = interleaved(runs, cfg.repeats, verify)
    flyray, raw = Figure.of(times["flyray"], "s"), Figure.of(times["ray"], "s")
    kit = cfg.flytekit("parallel_sleep.py", ["--seconds", str(seconds)],
                       timeout=60 + 3 * TASKS * seconds * cfg.repeats)
    kit_wall = kit if isinstance(kit, str) else kit["wall"]
    cpus = float(ray.cluster_resources().get("CPU", 0))
    notes = [f"each task sleeps {seconds:g} s; runs follow each other with the workers up (Ray "
             "stops idle workers beyond one per CPU after about a second, and a run after a "
             "pause pays for starting them again)"]
    if cpus < TASKS * CPU:
        notes.append(f"the cluster has {cpus:g} logical CPUs, fewer than the "
                     f"{TASKS * CPU:g} that {TASKS} tasks x {CPU:g} CPU need: they run in waves")
    if isinstance(kit_wall, str):
        measured, met = "no flytekit figure", None
    else:
        speedup = kit_wall.median / flyray.median
        measured, met = f"{speedup:.1f}x faster", speedup >= TARGET_SPEEDUP
    row = Row(NAME, f"{TASKS} x sleep {seconds:g} s, cpu=250m", flyray, raw,
              f">= {TARGET_SPEEDUP:g}x faster than flytekit", measured, met, kit_wall,
              "; ".join(notes))
    return Outcome([row], {"seconds": times, "sleep_s": seconds, "cluster_cpus": cpus})


if __name__ == "__main__":
    from benchmarks.__main__ import main

    main(["--only", NAME, *sys.argv[1:]])
