"""One-node executions through the admin API, as users create them: the first execution
of a new version (a cold executor), lone executions on the warm executor, and a burst
of 100 created by 8 concurrent clients.

The admin runs on Ray Serve in the run's cluster (``benchmarks/_admin_http.py``) with
one registered launch plan of a one-node workflow. Times are the execution's
``created_at`` -> ``ended_at`` as the API reports them (the database's clock). The
new version is the same launch plan registered under another version with a code
bundle (as ``flyray register --version`` registers it): its executor is new (its key
is the bundle), and Ray starts it and its task's worker in the bundle's runtime
environment. Targets (issue #14): burst throughput >= 10 executions/s, a lone warm
execution p50 <= 0.5 s, the first of a new version <= 3 s.

Raw Ray does the same units of work in the same run: one remote task each, after
writing one SQLite row (what the raw Serve peer of ``admin_api`` does for a create),
submitted by 8 threads for the burst; for the new version, one task in the runtime
environment of another, new bundle of the same code.

    python -m benchmarks --only executions
"""

# Task calls are typed Any (in a workflow body they return promises): returning one is fine.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import ray

from benchmarks._admin_http import (
    CLIENTS,
    AdminOnServe,
    call,
    create_to_end_s,
    describe_timeline,
    epoch,
    execution_body,
    load,
    median_timeline,
    outputs,
    percentile,
    register,
    run_clients,
    timeline,
    wait_done,
)
from benchmarks._config import RunConfig
from benchmarks._measure import BenchmarkError, check
from benchmarks._report import Figure, Outcome, Row
from engine import task, workflow
from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import Settings
from engine.dag.versioning import Scope, moved_workflow
from engine.remote.bundle import build_bundle, upload_bundle

NAME = "executions"
REPEATS = 1  # each run is one burst; --quick makes it smaller
BURST, QUICK_BURST = 100, 30
LONE, QUICK_LONE = 5, 3
THROUGHPUT_TARGET = 10.0  # executions/s
WARM_TARGET_S = 0.5
COLD_TARGET_S = 3.0
LAUNCH_PLAN = "one_node"
NEW_VERSION = "new-version"
WAIT_S = 600.0


@task
def add_one(x: int) -> int:
    return x + 1


@workflow
def one_node(x: int) -> int:
    return add_one(x=x)


@ray.remote
def _raw_add_one(x: int) -> int:
    return add_one.fn(x)


class RawRecords:
    """The raw peer's bookkeeping: one JSON row per unit of work in a SQLite file (WAL,
    one commit each, a connection per thread), as ``benchmarks/_raw_serve.py`` writes
    one per create."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def write(self, body: dict[str, Any]) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, "
                         "body TEXT NOT NULL)")
            self._local.conn = conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO rows (body) VALUES (?)", (json.dumps(body),))
        conn.execute("COMMIT")


def raw_burst(count: int, unit: Callable[[int], Future[Any]]) -> tuple[float, list[float],
                                                                      list[Any]]:
    """``count`` units (``unit(i)`` submits one and returns its future) submitted by
    ``CLIENTS`` threads: seconds from the first submission to the last result, each
    unit's seconds from its submission to its result, and the results in order."""
    lock = threading.Lock()
    futures: dict[int, Future[Any]] = {}
    latencies: list[float] = []
    ends: list[float] = []

    def ended(sent: float) -> Callable[[Future[Any]], None]:
        def record(_: Future[Any]) -> None:
            now = time.time()
            with lock:
                latencies.append(now - sent)
                ends.append(now)
        return record

    def client(k: int) -> None:
        for i in range(k, count, CLIENTS):
            sent = time.time()
            future = unit(i)
            future.add_done_callback(ended(sent))
            with lock:
                futures[i] = future

    began = run_clients(client)
    results = [futures[i].result(timeout=WAIT_S) for i in range(count)]
    deadline = time.monotonic() + 10
    while True:  # a future's callbacks run just after it resolves
        with lock:
            if len(ends) == count:
                return max(ends) - began, latencies, results
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{NAME}: {count} raw results, {len(ends)} callbacks")
        time.sleep(0.01)


def _bundle(settings: Settings, marker: str) -> str:
    """A code bundle of this package (``flyray register``'s format) uploaded to the blob
    store; ``marker`` makes its content, hence its URI and Ray runtime env, new."""
    with tempfile.TemporaryDirectory(prefix="flyray-bench-code-") as tmp:
        root = Path(tmp)
        shutil.copytree(Path(__file__).resolve().parent, root / "benchmarks",
                        ignore=shutil.ignore_patterns("results", "flytekit_peer",
                                                      "__pycache__"))
        (root / "marker.txt").write_text(marker)
        return upload_bundle(build_bundle(root), BlobStore(StorageConfig.from_settings(
            settings)))


def _one(api: str, plan: dict[str, Any], x: int) -> dict[str, Any]:
    """Create one execution of ``plan`` and wait for it; it must return x + 1."""
    _, created = call("POST", f"{api}/executions", execution_body(plan, {"x": x}))
    [done] = wait_done(api, plan["project"], plan["domain"], [created["id"]["name"]], WAIT_S)
    check(f"{NAME}: outputs of {done['id']['name']}", outputs(api, done), {"o0": x + 1})
    return done


def _timed(fn: Callable[[], Any]) -> float:
    start = time.time()
    fn()
    return time.time() - start


def _cold(admin: AdminOnServe, records: RawRecords) -> tuple[float, float, dict[str, float]]:
    """The first execution of a new version, and raw Ray's first task of a new bundle."""
    code_uri = _bundle(admin.settings, "flyray")
    compiled = one_node.compile().spec
    scope = Scope(compiled.id.project, compiled.id.domain, NEW_VERSION)
    plan = register(admin.api, moved_workflow(compiled, scope), code_uri, LAUNCH_PLAN)
    done = _one(admin.api, plan, 7)
    [executor] = [e for e in admin.executors() if e["code_uri"] == code_uri]
    # Its first report (the database's clock), once its process is up and imported.
    up = {"to_executor_start": epoch(executor["started_at"]) - epoch(done["closure"][
        "created_at"])}
    raw_env = {"working_dir": _bundle(admin.settings, "raw Ray")}

    def raw() -> None:
        records.write({"x": 7})
        check(f"{NAME}: raw Ray's first task", ray.get(
            _raw_add_one.options(runtime_env=raw_env).remote(7)), 8)  # type: ignore[attr-defined]

    return create_to_end_s(done), _timed(raw), {**up, **timeline(admin.api, done)}


def _lone(admin: AdminOnServe, plan: dict[str, Any], records: RawRecords,
          count: int) -> tuple[list[float], list[float], list[dict[str, float]]]:
    """Lone executions on the warm executor, and raw Ray's lone units, in turns."""
    ours: list[float] = []
    raw: list[float] = []
    timelines: list[dict[str, float]] = []

    for x in range(count):
        done = _one(admin.api, plan, x)
        ours.append(create_to_end_s(done))
        timelines.append(timeline(admin.api, done))
        start = time.time()
        records.write({"x": x})
        check(f"{NAME}: raw Ray's lone unit", ray.get(_raw_add_one.remote(x)), x + 1)
        raw.append(time.time() - start)
    return ours, raw, timelines


def _burst(admin: AdminOnServe, plan: dict[str, Any], records: RawRecords,
           count: int) -> dict[str, Any]:
    """``count`` executions created by ``CLIENTS`` clients, and raw Ray's ``count`` units."""
    ours = load(f"{admin.api}/executions", lambda i: execution_body(plan, {"x": i}), count)
    executions = wait_done(admin.api, plan["project"], plan["domain"], ours.names, WAIT_S)
    for e in executions:
        check(f"{NAME}: outputs of {e['id']['name']}", outputs(admin.api, e),
              {"o0": e["spec"]["inputs"]["x"] + 1})

    def unit(i: int) -> Future[Any]:
        records.write({"x": i})
        return _raw_add_one.remote(i).future()

    executors = [{k: e[k] for k in ("name", "warm", "completed")} for e in admin.executors()
                 if e["code_uri"] is None]  # the default version's, not the new one's
    raw_wall, raw_latencies, results = raw_burst(count, unit)
    check(f"{NAME}: raw Ray's burst results", results, [i + 1 for i in range(count)])
    return {"wall_s": max(epoch(e["closure"]["ended_at"]) for e in executions) - ours.began,
            "create_to_end_s": [create_to_end_s(e) for e in executions],
            "create_ms": ours.creates_ms, "executors": executors,
            "timeline": median_timeline([timeline(admin.api, e) for e in executions]),
            "raw_wall_s": raw_wall, "raw_latency_s": raw_latencies}


def seconds(value: float) -> str:
    """``value`` seconds, with three decimals below 0.1 s (as ``Figure.show``)."""
    return f"{value:.{2 if value >= 0.1 else 3}f} s"


def p50_p99(values: list[float]) -> Figure:
    """A latency figure (seconds) shown as its p50 and p99."""
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    return Figure(p50, min(values), max(values), "s", len(values),
                  text=f"p50 {seconds(p50)}, p99 {seconds(p99)}")


def _rows(cold: tuple[float, float, dict[str, float]], lone: tuple[list[float], list[float],
          list[dict[str, float]]], burst: dict[str, Any], count: int) -> list[Row]:
    cold_s, raw_cold_s, cold_timeline = cold
    warm, raw_warm, warm_timelines = lone
    wall, raw_wall = burst["wall_s"], burst["raw_wall_s"]
    rate, raw_rate = count / wall, count / raw_wall
    warm_p50 = statistics.median(warm)
    return [
        Row(NAME, f"burst of {count} one-node executions, created -> all SUCCEEDED",
            Figure(wall, wall, wall, "s", 1, text=f"{wall:.2f} s ({rate:.1f} /s)"),
            Figure(raw_wall, raw_wall, raw_wall, "s", 1,
                   text=f"{raw_wall:.2f} s ({raw_rate:.0f} /s)"),
            f">= {THROUGHPUT_TARGET:g} executions/s", f"{rate:.1f} /s",
            rate >= THROUGHPUT_TARGET,
            note=f"created by {CLIENTS} HTTP clients; first create sent -> last ended_at "
                 f"(median: {describe_timeline(burst['timeline'])}; driven by "
                 f"{len(burst['executors'])} executor(s)); raw Ray: {count} remote "
                 f"tasks submitted by {CLIENTS} threads, each after writing one SQLite row"),
        Row(NAME, f"create -> SUCCEEDED, in the burst of {count}",
            p50_p99(burst["create_to_end_s"]), p50_p99(burst["raw_latency_s"]),
            "none in #14", f"p50 {seconds(statistics.median(burst['create_to_end_s']))}", None,
            note="created_at -> ended_at by the database's clock; raw Ray: a unit's row "
                 "write -> its result"),
        Row(NAME, "lone execution, warm executor: create -> SUCCEEDED", p50_p99(warm),
            p50_p99(raw_warm), f"p50 <= {WARM_TARGET_S:g} s", f"p50 {seconds(warm_p50)}",
            warm_p50 <= WARM_TARGET_S,
            note=f"{len(warm)} in turn, after one to warm up (median: "
                 f"{describe_timeline(median_timeline(warm_timelines))}); raw Ray: one row "
                 "write and one task, waited for"),
        Row(NAME, "first execution of a new version, cold executor",
            Figure(cold_s, cold_s, cold_s, "s", 1), Figure(raw_cold_s, raw_cold_s,
                                                           raw_cold_s, "s", 1),
            f"<= {COLD_TARGET_S:g} s", seconds(cold_s), cold_s <= COLD_TARGET_S,
            note=f"the launch plan under a new version with a code bundle: a new executor "
                 f"and task worker in its runtime env; since create: "
                 f"{describe_timeline(cold_timeline)}; raw Ray: one task in the runtime env "
                 "of another new bundle"),
    ]


def measure(cfg: RunConfig) -> Outcome:
    count = QUICK_BURST if cfg.quick else BURST
    with tempfile.TemporaryDirectory(prefix="flyray-bench-raw-") as tmp, \
            AdminOnServe(cfg.settings, NAME) as admin:
        records = RawRecords(Path(tmp) / "raw.db")
        admin.wait_warm()  # the warm executor's start is not the cold execution's
        cold = _cold(admin, records)
        plan = register(admin.api, one_node.compile().spec, launch_plan=LAUNCH_PLAN)
        first = create_to_end_s(_one(admin.api, plan, -1))  # warms the executor's workers
        records.write({"x": -1})
        ray.get(_raw_add_one.remote(-1))
        lone = _lone(admin, plan, records, QUICK_LONE if cfg.quick else LONE)
        burst = _burst(admin, plan, records, count)
    return Outcome(_rows(cold, lone, burst, count), {
        "cold_s": cold[0], "raw_cold_s": cold[1], "cold_timeline": cold[2],
        "first_on_warm_executor_s": first, "warm_s": lone[0], "raw_warm_s": lone[1],
        "warm_timelines": lone[2], **burst})
