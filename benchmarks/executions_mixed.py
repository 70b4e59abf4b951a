"""A burst of 20 executions of a five-node workflow with a map and a DataFrame hand-off,
created through the admin API by 8 concurrent clients: throughput and end-to-end
latency.

The workflow: a task makes a pandas DataFrame; a second reads a column of it as a list;
a ``map_task`` squares each element; a fourth sums the squares; the last takes the
DataFrame again and the sum. The admin runs on Ray Serve in the run's cluster
(``benchmarks/_admin_http.py``) and its warm executor drives the executions. Times are
``created_at`` -> ``ended_at`` (the database's clock). The issue sets no target.

Raw Ray does the same five steps as remote tasks per execution (the map in the same
batches as Flyray's map), each execution in a thread of its own (as an executor drives
each in a thread) after writing one SQLite row, passing the DataFrame by ObjectRef.

    python -m benchmarks --only executions_mixed
"""

# Task calls are typed Any (in a workflow body they return promises): returning one is fine.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import statistics
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from benchmarks._admin_http import (
    CLIENTS,
    AdminOnServe,
    describe_timeline,
    epoch,
    execution_body,
    load,
    median_timeline,
    outputs,
    register,
    timeline,
    wait_done,
)
from benchmarks._batches import raw_map
from benchmarks._config import RunConfig
from benchmarks._measure import check
from benchmarks._report import Figure, Outcome, Row
from benchmarks.executions import WAIT_S, RawRecords, p50_p99, raw_burst, seconds
from engine import map_task, task, workflow

NAME = "executions_mixed"
REPEATS = 1
EXECUTIONS, QUICK_EXECUTIONS = 20, 8
ROWS = 10_000  # of the DataFrame
ELEMENTS = 10  # mapped


@task
def make_frame(rows: int, elements: int) -> pd.DataFrame:
    return pd.DataFrame({"k": [i % elements for i in range(rows)],
                         "v": [float(i) for i in range(rows)]})


@task
def keys(df: pd.DataFrame) -> list[int]:
    return sorted(int(k) for k in df["k"].unique())


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def report(df: pd.DataFrame, squares: int) -> float:
    return float(df["v"].sum()) + squares


@workflow
def mixed(rows: int, elements: int) -> float:
    df = make_frame(rows=rows, elements=elements)
    squares = map_task(square)(x=keys(df=df))
    return report(df=df, squares=total(xs=squares))


def expected(rows: int, elements: int) -> float:
    """The workflow's output, by its tasks' plain functions."""
    df = make_frame.fn(rows, elements)
    return report.fn(df, total.fn([square.fn(x) for x in keys.fn(df)]))


_raw_make = ray.remote(make_frame.fn)
_raw_keys = ray.remote(keys.fn)
_raw_total = ray.remote(total.fn)
_raw_report = ray.remote(report.fn)


def _raw_execution(rows: int, elements: int) -> float:
    """The five steps as raw Ray tasks: the DataFrame by ObjectRef, the map in batches."""
    df = _raw_make.remote(rows, elements)
    squares = raw_map(square.fn, ray.get(_raw_keys.remote(df)))
    return float(ray.get(_raw_report.remote(df, _raw_total.remote(squares))))


def _raw(records: RawRecords, count: int, inputs: dict[str, int]) -> tuple[float, list[float]]:
    """``count`` raw executions, each in a thread of its own after its row is written."""

    def unit(i: int) -> Future[Any]:
        records.write({"i": i, **inputs})
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(_raw_execution(**inputs))
            except BaseException as e:  # handed to whoever reads the future
                future.set_exception(e)

        threading.Thread(target=run, daemon=True).start()
        return future

    wall, latencies, results = raw_burst(count, unit)
    check(f"{NAME}: raw Ray's outputs", results, [expected(**inputs)] * count)
    return wall, latencies


def measure(cfg: RunConfig) -> Outcome:
    count = QUICK_EXECUTIONS if cfg.quick else EXECUTIONS
    inputs = {"rows": ROWS, "elements": ELEMENTS}
    want = {"o0": expected(**inputs)}
    with tempfile.TemporaryDirectory(prefix="flyray-bench-raw-") as tmp, \
            AdminOnServe(cfg.settings, NAME) as admin:
        records = RawRecords(Path(tmp) / "raw.db")
        ident = register(admin.api, mixed.compile().spec)
        admin.wait_warm()
        body = execution_body(ident, inputs)
        # One of each first: the executor's and the tasks' workers import pandas.
        warm_up = load(f"{admin.api}/executions", lambda i: body, 1)
        wait_done(admin.api, ident["project"], ident["domain"], warm_up.names, WAIT_S)
        _raw(records, 1, inputs)
        ours = load(f"{admin.api}/executions", lambda i: body, count)
        executions = wait_done(admin.api, ident["project"], ident["domain"], ours.names,
                               WAIT_S)
        for e in executions:
            check(f"{NAME}: outputs of {e['id']['name']}", outputs(admin.api, e), want)
        parts = median_timeline([timeline(admin.api, e) for e in executions])
        raw_wall, raw_latencies = _raw(records, count, inputs)
    wall = max(epoch(e["closure"]["ended_at"]) for e in executions) - ours.began
    latencies = [epoch(e["closure"]["ended_at"]) - epoch(e["closure"]["created_at"])
                 for e in executions]
    rate, raw_rate = count / wall, count / raw_wall
    what = f"{count} executions, 5 nodes with a map and a DataFrame"
    rows = [
        Row(NAME, f"burst of {what}, created -> all SUCCEEDED",
            Figure(wall, wall, wall, "s", 1, text=f"{wall:.2f} s ({rate:.2f} /s)"),
            Figure(raw_wall, raw_wall, raw_wall, "s", 1,
                   text=f"{raw_wall:.2f} s ({raw_rate:.1f} /s)"),
            "none in #14", f"{rate:.2f} /s", None,
            note=f"created by {CLIENTS} HTTP clients; first create sent -> last ended_at "
                 f"(median: {describe_timeline(parts)}); raw Ray: the five steps as "
                 "tasks, an execution a thread, each after writing one SQLite row"),
        Row(NAME, f"create -> SUCCEEDED, in the burst of {count}", p50_p99(latencies),
            p50_p99(raw_latencies), "none in #14",
            f"p50 {seconds(statistics.median(latencies))}", None,
            note=f"a {ROWS}-row DataFrame, a map over {ELEMENTS} elements; created_at -> "
                 "ended_at by the database's clock"),
    ]
    return Outcome(rows, {"wall_s": wall, "create_to_end_s": latencies,
                          "raw_wall_s": raw_wall, "raw_latency_s": raw_latencies,
                          "timeline": parts})
