"""A 320 MB DataFrame (10M rows x 4 float64) produced by one task and summed by another.

Flyray against raw Ray passing the same DataFrame by ObjectRef, in one run on one
cluster: wall time and peak memory of the Ray processes above their idle level.
Targets: time <= 1.2x raw Ray; peak memory <= 1.5x the data size.

    python -m benchmarks.dataframe_handoff [--repeat 5] [--rows 10000000]
"""

# Task calls are typed Any (in a workflow body they return promises): returning one is fine.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import numpy as np
import pandas as pd
import ray

from benchmarks._config import RunConfig
from benchmarks._measure import (
    PeakMemory,
    check,
    machine,
    print_summaries,
    summary,
    timed,
    verdict,
    write,
)
from benchmarks._report import Figure, Outcome, Row
from engine import task, workflow

NAME = "dataframe_handoff"
REPEATS = 5
TIME_TARGET = 1.2
MEMORY_TARGET = 1.5


@task
def produce(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({c: rng.random(rows) for c in "abcd"})


@task
def total(df: pd.DataFrame) -> float:
    return float(df.to_numpy().sum())


@workflow
def handoff(rows: int) -> float:
    return total(df=produce(rows=rows))


@ray.remote
def raw_produce(rows: int) -> pd.DataFrame:
    return produce.fn(rows)


@ray.remote
def raw_total(df: pd.DataFrame) -> float:
    return total.fn(df)


def handoff_runs(rows: int, repeat: int) -> dict[str, dict[str, list[float]]]:
    """Seconds and peak MB of each variant over ``repeat`` runs; Ray must be up."""
    runs: dict[str, dict[str, list[float]]] = {k: {"s": [], "mb": []} for k in ("flyray", "ray")}
    expected = total.fn(produce.fn(rows))  # the same seed: both must give exactly this
    handoff(rows=1000)  # warm up workers and the compiled spec, right before timing
    ray.get(raw_total.remote(raw_produce.remote(1000)))
    for _ in range(repeat):
        for name, fn in (("ray", lambda: ray.get(raw_total.remote(raw_produce.remote(rows)))),
                         ("flyray", lambda: handoff(rows=rows))):
            with PeakMemory() as mem:
                seconds, result = timed(fn)
            check(f"{NAME} ({name}) sum", result, expected)
            runs[name]["s"].append(seconds)
            runs[name]["mb"].append(mem.peak / 1e6)
    return runs


def measure(cfg: RunConfig) -> Outcome:
    rows = 1_000_000 if cfg.quick else 10_000_000
    data_mb = rows * 4 * 8 / 1e6
    runs = handoff_runs(rows, cfg.repeats)
    flyray, raw = Figure.of(runs["flyray"]["s"], "s"), Figure.of(runs["ray"]["s"], "s")
    mem_f, mem_r = Figure.of(runs["flyray"]["mb"], "MB"), Figure.of(runs["ray"]["mb"], "MB")
    ratio, mem_ratio = flyray.median / raw.median, mem_f.median / data_mb
    rows_out = [
        Row(NAME, f"{data_mb:.0f} MB DataFrame task -> task", flyray, raw,
            f"<= {TIME_TARGET:g}x raw Ray", f"{ratio:.2f}x", ratio <= TIME_TARGET),
        Row(NAME, "peak memory above idle (PSS)", mem_f, mem_r,
            f"<= {MEMORY_TARGET:g}x data", f"{mem_ratio:.2f}x data", mem_ratio <= MEMORY_TARGET,
            note=f"raw Ray: {mem_r.median / data_mb:.2f}x data; PSS of the driver and the "
                 "Ray workers, sampled every 20 ms"),
    ]
    return Outcome(rows_out, {"rows": rows, "data_mb": data_mb, "runs": runs})


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    data_mb = args.rows * 4 * 8 / 1e6
    runs = handoff_runs(args.rows, args.repeat)
    ray.shutdown()
    flyray, raw = summary(runs["flyray"]["s"]), summary(runs["ray"]["s"])
    mem_f, mem_r = summary(runs["flyray"]["mb"]), summary(runs["ray"]["mb"])
    ratio = flyray["median"] / raw["median"]
    mem_ratio = mem_f["median"] / data_mb
    payload: dict[str, Any] = {
        "machine": machine(), "rows": args.rows, "data_mb": data_mb, "repeat": args.repeat,
        "seconds": {"flyray": flyray, "ray": raw}, "peak_mb": {"flyray": mem_f, "ray": mem_r},
        "time_ratio": ratio, "time_target": TIME_TARGET, "memory_ratio": mem_ratio,
        "memory_target": MEMORY_TARGET,
    }
    path = write(NAME, payload)
    print(f"machine: {payload['machine']}")
    print_summaries([("flyray s", flyray), ("raw ray s", raw), ("flyray peak MB", mem_f),
                     ("raw ray peak MB", mem_r)])
    print(f"time ratio flyray/ray: {ratio:.2f} (target <= 1.2: {verdict(ratio <= 1.2)})")
    print(f"peak memory / data ({data_mb:.0f} MB): {mem_ratio:.2f} "
          f"(target <= 1.5: {verdict(mem_ratio <= 1.5)})")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
