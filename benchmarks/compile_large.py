"""A large workflow: compile 10,000 nodes; run a map_task over 100,000 elements.

The workflow is 99 chains of 101 ``inc`` nodes and one ``total`` over their ends.
Raw Ray builds the same graph lazily with its DAG API (``.bind``) and runs the
map in the batches Flyray uses; flytekit compiles the same workflow and runs the
map in-process. Targets: compile <= 1 s; the 100,000-element map completes.

    python -m benchmarks.compile_large   # the same as: python -m benchmarks --only compile_large
"""

# Task calls are typed Any (in a workflow body they return promises): returning one is fine.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import sys
import time
from typing import Any

import ray

from benchmarks._batches import raw_map
from benchmarks._config import RunConfig
from benchmarks._measure import check, interleaved
from benchmarks._report import Figure, Outcome, Row
from benchmarks.map_tiny import inc, mapped
from engine import PythonFunctionWorkflow, task, workflow

NAME = "compile_large"
REPEATS = 3
COMPILE_TARGET_S = 1.0


@task
def total(xs: list[int]) -> int:
    return sum(xs)


def large(chains: int, length: int) -> PythonFunctionWorkflow:
    """A new (not yet compiled) workflow of ``chains`` x ``length`` inc nodes and a total."""

    def large_wf() -> int:
        ends = []
        for c in range(chains):
            x = inc(x=c)
            for _ in range(length - 1):
                x = inc(x=x)
            ends.append(x)
        return total(xs=ends)

    return workflow(name=f"benchmarks.compile_large.large{chains}x{length}")(large_wf)


@ray.remote
def raw_inc(x: int) -> int:
    return x + 1


@ray.remote
def raw_total(*xs: int) -> int:
    return sum(xs)


def raw_graph(chains: int, length: int) -> tuple[Any, int]:
    """The same graph as Ray DAG nodes, not run; with the count of nodes bound."""
    ends, bound = [], 0
    for c in range(chains):
        x: Any = raw_inc.bind(c)
        for _ in range(length - 1):
            x = raw_inc.bind(x)
        bound += length
        ends.append(x)
    return raw_total.bind(*ends), bound + 1


def _compile_row(cfg: RunConfig, chains: int, length: int) -> tuple[Row, dict[str, Any]]:
    nodes = chains * length + 1
    flyray_s, ray_s = [], []
    for _ in range(cfg.repeats):
        wf = large(chains, length)
        start = time.perf_counter()
        compiled = wf.compile()
        flyray_s.append(time.perf_counter() - start)
        check(f"{NAME}: compiled nodes", len(compiled.spec.nodes), nodes)
        start = time.perf_counter()
        _, bound = raw_graph(chains, length)
        ray_s.append(time.perf_counter() - start)
        check(f"{NAME}: Ray DAG nodes bound", bound, nodes)
    flyray, raw = Figure.of(flyray_s, "s"), Figure.of(ray_s, "s")
    kit = cfg.flytekit("compile_large.py", ["--chains", str(chains), "--length", str(length)],
                       timeout=120 + 20 * cfg.repeats)
    row = Row(NAME, f"compile {nodes:,} nodes", flyray, raw, f"<= {COMPILE_TARGET_S:g} s",
              f"{flyray.median:.2f} s", flyray.median <= COMPILE_TARGET_S,
              kit if isinstance(kit, str) else kit["compile"],
              "raw Ray: the same graph built with its DAG API (.bind), not run")
    return row, {"compile_s": {"flyray": flyray_s, "ray": ray_s}, "nodes": nodes}


def _map_row(cfg: RunConfig, n: int) -> tuple[Row, dict[str, Any]]:
    xs = list(range(n))
    expected = [x + 1 for x in xs]

    def verify(name: str, out: object) -> None:
        check(f"{NAME} ({name}) map outputs", out, expected)

    runs = {"ray": lambda: raw_map(inc.fn, xs), "flyray": lambda: mapped(xs=xs)}
    repeats = -(-cfg.repeats // 2)  # the target is "completes": fewer of these long runs
    times = interleaved(runs, repeats, verify)
    flyray, raw = Figure.of(times["flyray"], "s"), Figure.of(times["ray"], "s")
    kit = cfg.flytekit("map_tiny.py", ["--n", str(n), "--no-warm-up"],
                       timeout=60 + 0.5e-3 * n * repeats, repeats=repeats)
    row = Row(NAME, f"map_task over {n:,} elements", flyray, raw, "completes",
              "completed, outputs checked", True,
              kit if isinstance(kit, str) else kit["wall"],
              f"{repeats} run(s) of each, no warm-up for flytekit's")
    return row, {"map_s": times, "elements": n, "map_repeats": repeats}


def measure(cfg: RunConfig) -> Outcome:
    chains, length = (20, 100) if cfg.quick else (99, 101)
    compile_row, compile_data = _compile_row(cfg, chains, length)
    map_row, map_data = _map_row(cfg, 10_000 if cfg.quick else 100_000)
    return Outcome([compile_row, map_row], {**compile_data, **map_data})


if __name__ == "__main__":
    from benchmarks.__main__ import main

    main(["--only", NAME, *sys.argv[1:]])
