"""A fan-out: 1,000 independent no-op task nodes summed by one more.

Raw Ray submits the same 1,000 no-op remote functions and a sum over their refs.
Target: Flyray <= 1.3x raw Ray.

    python -m benchmarks.fanout   # the same as: python -m benchmarks --only fanout
"""

# Task calls are typed Any (in a workflow body they return promises): returning one is fine.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import ray

from benchmarks._config import RunConfig
from benchmarks._measure import check, interleaved
from benchmarks._report import Figure, Outcome, Row
from engine import PythonFunctionWorkflow, task, workflow

NAME = "fanout"
REPEATS = 5
TARGET_RATIO = 1.3


@task
def noop(i: int) -> int:
    return i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


def fan(width: int) -> PythonFunctionWorkflow:
    """A workflow of ``width`` no-op nodes and their sum (the width is fixed at compile time)."""

    @workflow(name=f"benchmarks.fanout.fan{width}")
    def fan_wf() -> int:
        return total(xs=[noop(i=i) for i in range(width)])

    return fan_wf


@ray.remote
def raw_noop(i: int) -> int:
    return i


@ray.remote
def raw_total(*xs: int) -> int:
    return sum(xs)


def measure(cfg: RunConfig) -> Outcome:
    width = 200 if cfg.quick else 1000
    wf = fan(width)
    runs: dict[str, Callable[[], Any]] = {
        "ray": lambda: ray.get(raw_total.remote(*[raw_noop.remote(i) for i in range(width)])),
        "flyray": wf,
    }
    expected = width * (width - 1) // 2

    def verify(name: str, out: object) -> None:
        check(f"{NAME} ({name}) sum", out, expected)

    interleaved(runs, 1, verify)  # warm-up: workers, and the workflow compiled once
    times = interleaved(runs, cfg.repeats, verify)
    flyray, raw = Figure.of(times["flyray"], "s"), Figure.of(times["ray"], "s")
    kit = cfg.flytekit("fanout.py", ["--width", str(width)], timeout=300)
    ratio = flyray.median / raw.median
    row = Row(NAME, f"{width} no-op nodes + sum", flyray, raw, f"<= {TARGET_RATIO:g}x raw Ray",
              f"{ratio:.2f}x", ratio <= TARGET_RATIO, kit if isinstance(kit, str) else kit["wall"],
              "flytekit runs the nodes one by one in-process")
    return Outcome([row], {"seconds": times, "width": width})


if __name__ == "__main__":
    from benchmarks.__main__ import main

    main(["--only", NAME, *sys.argv[1:]])
