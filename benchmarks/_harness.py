"""One run of every workload on one Ray cluster: the table, and results/latest.json."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from benchmarks import (
    admin_api,
    cached_rerun,
    chain,
    cli_run,
    compile_large,
    dataframe_handoff,
    executions,
    executions_mixed,
    fanout,
    map_tiny,
    parallel_sleep,
    schedules,
)
from benchmarks import peer as peer_venv
from benchmarks._config import RunConfig
from benchmarks._measure import RESULTS, machine
from benchmarks._report import Outcome, Row, markdown, notes, table
from engine import task, workflow
from engine.config import load_settings, prepare_ray_environment


@dataclass(frozen=True)
class Workload:
    name: str
    measure: Callable[[RunConfig], Outcome]
    repeats: int  # the default; --quick halves it, --repeats replaces it


WORKLOADS = {m.NAME: Workload(m.NAME, m.measure, m.REPEATS) for m in (
    parallel_sleep, fanout, map_tiny, chain, dataframe_handoff, cached_rerun, compile_large,
    cli_run, admin_api, executions, executions_mixed, schedules)}


@dataclass(frozen=True)
class Options:
    only: list[str]  # workload names, in WORKLOADS order
    repeats: int | None  # None: each workload's default
    quick: bool
    flytekit: bool


@task
def _warm(i: int) -> int:
    return i


@workflow
def _warm_wf(n: int) -> list[int]:
    return [_warm(i=i) for i in range(4)] + [_warm(i=n)]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _start_cluster() -> tuple[str, float]:
    """Start the run's local Ray cluster and warm it; its GCS address and logical CPUs."""
    os.environ.pop("RAY_ADDRESS", None)  # the run's own cluster, never one found elsewhere
    prepare_ray_environment()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    cpus = float(ray.cluster_resources().get("CPU", 0))

    @ray.remote
    def spin(i: int) -> int:
        return i

    for _ in range(3):  # start a worker per CPU and import what tasks import
        ray.get([spin.remote(i) for i in range(200)])
        if _warm_wf(n=4) != [0, 1, 2, 3, 4]:
            raise RuntimeError("warm-up workflow returned a wrong result")
    return ray.get_runtime_context().gcs_address, cpus


def _repeats(workload: Workload, options: Options) -> int:
    if options.repeats is not None:
        return options.repeats
    return max(1, workload.repeats // 2) if options.quick else workload.repeats


def _failed(name: str, error: BaseException) -> Outcome:
    message = f"{type(error).__name__}: {error}"
    return Outcome([Row(name, "failed", None, None, "—", message[:60], False, error=message)],
                   {"error": "".join(traceback.format_exception(error))})


def run(options: Options) -> int:
    """Run the chosen workloads; print the table; write the JSON. Exit status: 1 on errors."""
    started = dt.datetime.now(dt.timezone.utc)
    home = Path(tempfile.mkdtemp(prefix="flyray-bench-"))
    os.environ["FLYRAY_HOME"] = str(home)  # a throwaway catalog and blob store
    peer: peer_venv.Peer | None = None
    peer_status = "left out (--no-flytekit)"
    if options.flytekit:
        peer = peer_venv.ensure_peer()
        peer_status = (f"flytekit {peer_venv.FLYTEKIT_VERSION} in {peer_venv.venv_path()}"
                       if peer.python else f"unavailable: {peer.reason}")
    _log(f"starting Ray (flytekit peer: {peer_status}) ...")
    address, cpus = _start_cluster()
    settings = load_settings()
    results: dict[str, dict[str, Any]] = {}
    rows: list[Row] = []
    try:
        for index, name in enumerate(options.only, 1):
            workload = WORKLOADS[name]
            repeats = _repeats(workload, options)
            cfg = RunConfig(repeats, options.quick, peer, address, settings)
            _log(f"[{index}/{len(options.only)}] {name} (repeats {repeats}) ...")
            start = time.perf_counter()
            try:
                outcome = workload.measure(cfg)
            except Exception as e:  # a broken workload: reported as ERROR, the run goes on
                outcome = _failed(name, e)
            took = time.perf_counter() - start
            _log(f"    {took:.1f} s")
            rows += outcome.rows
            results[name] = {
                "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "repeats": repeats, "quick": options.quick, "seconds_total": took,
                "flytekit": peer_status,
                "rows": [r.to_json() for r in outcome.rows], "data": outcome.data,
            }
    finally:
        ray.shutdown()
        shutil.rmtree(home, ignore_errors=True)
    header = {**machine(), "ray_cluster_cpus": cpus}
    path = _write(header, peer_status, results, options, started)
    path.with_suffix(".md").write_text(markdown(rows) + "\n")
    _print(header, peer_status, rows, options, path)
    return 1 if any(r.error for r in rows) else 0


def _write(header: dict[str, Any], peer_status: str, results: dict[str, dict[str, Any]],
           options: Options, started: dt.datetime) -> Path:
    """latest.json (latest-quick.json for --quick); workloads not run keep their entries."""
    path = RESULTS / ("latest-quick.json" if options.quick else "latest.json")
    workloads: dict[str, Any] = {}
    if path.exists():
        try:
            workloads = json.loads(path.read_text()).get("workloads", {})
        except (OSError, json.JSONDecodeError):
            workloads = {}
    workloads.update(results)
    payload = {"machine": header, "started": started.isoformat(timespec="seconds"),
               "flytekit": peer_status, "quick": options.quick,
               "workloads": {n: workloads[n] for n in WORKLOADS if n in workloads}}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def _print(header: dict[str, Any], peer_status: str, rows: list[Row], options: Options,
           path: Path) -> None:
    print(f"machine: {header['cpus']} CPUs, {header['memory_gib']} GiB, "
          f"Python {header['python']}, Ray {header['ray']}, {header['platform']}")
    print(f"Ray cluster: one local cluster for the run, {header['ray_cluster_cpus']:g} logical "
          f"CPUs (not raised above the machine's); flytekit peer: {peer_status}")
    print("figures: median (min–max) over the repeats, each after a warm-up; ratio = Flyray / "
          "raw Ray in the same run; 'measured' is what the target is checked against"
          + ("; --quick: smaller sizes, fewer repeats: a smoke run, not the figures"
             if options.quick else ""))
    print()
    print(table(rows))
    extra = notes(rows)
    if extra:
        print()
        print("notes:")
        for line in extra:
            print(f"  - {line}")
    print()
    print(f"written: {path} and {path.with_suffix('.md').name} (this run's rows as Markdown)")
