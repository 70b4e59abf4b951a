"""A chain of 200 dependent tasks, each adding one to the previous output.

Raw Ray chains the same 200 remote calls, each taking the previous ObjectRef.
Target: Flyray's time per node <= 1.3x raw Ray's.

    python -m benchmarks.chain   # the same as: python -m benchmarks --only chain
"""

from __future__ import annotations

import sys

import ray

from benchmarks._config import RunConfig
from benchmarks._measure import check, interleaved
from benchmarks._report import Figure, Outcome, Row
from engine import PythonFunctionWorkflow, task, workflow

NAME = "chain"
REPEATS = 5
TARGET_RATIO = 1.3


@task
def add_one(x: int) -> int:
    return x + 1


def chain(length: int) -> PythonFunctionWorkflow:
    """A workflow of ``length`` dependent nodes (the length is fixed at compile time)."""

    @workflow(name=f"benchmarks.chain.chain{length}")
    def chain_wf(start: int) -> int:
        x = start
        for _ in range(length):
            x = add_one(x=x)
        return x

    return chain_wf


@ray.remote
def raw_add_one(x: int) -> int:
    return x + 1


def raw_chain(start: int, length: int) -> int:
    ref = raw_add_one.remote(start)
    for _ in range(length - 1):
        ref = raw_add_one.remote(ref)
    result: int = ray.get(ref)
    return result


def measure(cfg: RunConfig) -> Outcome:
    length = 50 if cfg.quick else 200
    wf = chain(length)
    runs = {"ray": lambda: raw_chain(7, length), "flyray": lambda: wf(start=7)}

    def verify(name: str, out: object) -> None:
        check(f"{NAME} ({name}) end of chain", out, 7 + length)

    interleaved(runs, 1, verify)
    times = interleaved(runs, cfg.repeats, verify)
    per_node = 1000 / length
    flyray = Figure.of(times["flyray"], "ms", per_node)
    raw = Figure.of(times["ray"], "ms", per_node)
    kit = cfg.flytekit("chain.py", ["--length", str(length)], timeout=300)
    ratio = flyray.median / raw.median
    row = Row(NAME, f"per node, chain of {length}", flyray, raw, f"<= {TARGET_RATIO:g}x raw Ray",
              f"{ratio:.2f}x", ratio <= TARGET_RATIO,
              kit if isinstance(kit, str) else kit["wall"].scaled(per_node, "ms"),
              f"whole chain: Flyray {Figure.of(times['flyray'], 's').show()}, "
              f"raw Ray {Figure.of(times['ray'], 's').show()}")
    return Outcome([row], {"seconds": times, "length": length})


if __name__ == "__main__":
    from benchmarks.__main__ import main

    main(["--only", NAME, *sys.argv[1:]])
