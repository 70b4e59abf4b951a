"""The admin API under load: create- and get-execution latency with 8 concurrent HTTP
clients, and how many executions start per second.

The admin app runs on Ray Serve in the run's cluster (as ``flyray demo start`` runs
it), on loopback; clients are threads speaking plain HTTP (``benchmarks/_admin_http.py``).
Each execution runs a one-node workflow; executions go to the admin's warm executor
(one long-lived actor driving many executions), so the requests share the CPUs with
executions running. Targets (issue #14, item 5): p50 <= 1.2x the raw Serve peer. The
peer is a bare FastAPI app on the same Serve instance doing each request's core work
(one SQLite row written or read: ``benchmarks/_raw_serve.py``), loaded the same way
just before. Issue #7's absolute targets (p50 <= 20 ms, p99 <= 100 ms) are in the note.

    python -m benchmarks --only admin_api
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._admin_http import (
    CLIENTS,
    AdminOnServe,
    epoch,
    execution_body,
    load,
    percentile,
    register,
    wait_done,
)
from benchmarks._config import RunConfig
from benchmarks._report import Figure, Outcome, Row
from engine import task, workflow

NAME = "admin_api"
REPEATS = 1
TARGET_RATIO = 1.2  # p50 against the raw Serve peer's, issue #14
P50_ABSOLUTE_MS = 20.0  # issue #7
P99_ABSOLUTE_MS = 100.0


@task
def echo(x: int) -> int:
    return x


@workflow
def echo_wf(x: int) -> int:
    return echo(x=x)


def _latency_row(what: str, values: list[float], peer: list[float]) -> Row:
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    raw_p50, raw_p99 = statistics.median(peer), percentile(peer, 0.99)
    ratio = p50 / raw_p50
    absolute = "met" if p50 <= P50_ABSOLUTE_MS and p99 <= P99_ABSOLUTE_MS else "missed"
    return Row(NAME, f"{what}, {CLIENTS} concurrent clients",
               Figure(p50, min(values), max(values), "ms", len(values),
                      text=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"),
               Figure(raw_p50, min(peer), max(peer), "ms", len(peer),
                      text=f"p50 {raw_p50:.1f} ms, p99 {raw_p99:.1f} ms"),
               f"p50 <= {TARGET_RATIO:g}x raw Serve", f"p50 {ratio:.2f}x raw Serve",
               ratio <= TARGET_RATIO,
               note=f"{len(values)} requests while the executions they create run; raw "
                    "Ray: a bare FastAPI app on Serve writing or reading one SQLite row per "
                    f"request. Issue #7's p50 <= {P50_ABSOLUTE_MS:g} ms, p99 <= "
                    f"{P99_ABSOLUTE_MS:g} ms: {absolute}")


def measure(cfg: RunConfig) -> Outcome:
    from benchmarks import _raw_serve

    count = CLIENTS * (2 if cfg.quick else 4)
    with AdminOnServe(cfg.settings, NAME) as admin:
        _raw_serve.run(admin.settings.home)
        ident = register(admin.api, echo_wf.compile().spec)
        base = f"{admin.api}/executions/{ident['project']}/{ident['domain']}"
        raw = f"{admin.root}{_raw_serve.ROUTE_PREFIX}/rows"

        def body(i: int) -> dict[str, Any]:
            return execution_body(ident, {"x": i})

        load(raw, body, CLIENTS, lambda n: f"{raw}/{n}")  # warm-up of the peer
        peer = load(raw, body, count, lambda n: f"{raw}/{n}")
        ours = load(f"{admin.api}/executions", body, count, lambda n: f"{base}/{n}")
        executions = wait_done(admin.api, ident["project"], ident["domain"], ours.names,
                               timeout_s=600)
    started = sorted(epoch(e["closure"]["started_at"]) for e in executions)
    rate = len(started) / max(1e-9, started[-1] - ours.began)
    rows = [_latency_row("create execution", ours.creates_ms, peer.creates_ms),
            _latency_row("get execution", ours.gets_ms, peer.gets_ms),
            Row(NAME, "executions started per second",
                Figure(rate, rate, rate, "/s", 1, text=f"{rate:.2f} /s"), None,
                "none in #7", f"{rate:.2f} /s", None,
                note=f"{len(started)} one-node executions created by {CLIENTS} clients; "
                     "first create sent -> last started_at; all go to the admin's warm "
                     "executor (see the executions workload for their ends)")]
    return Outcome(rows, {"create_ms": ours.creates_ms, "get_ms": ours.gets_ms,
                          "raw_create_ms": peer.creates_ms, "raw_get_ms": peer.gets_ms,
                          "started_per_s": rate})
