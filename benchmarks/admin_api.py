"""The admin API under load: create- and get-execution latency with 8 concurrent HTTP
clients, and how many executions start per second.

The admin app runs on Ray Serve in the run's cluster (as ``flyray demo start`` runs
it), on loopback; clients are threads speaking plain HTTP. Each execution runs a
one-node workflow, driven by its own detached actor as every remote execution is.
Targets (issue #7): p50 <= 20 ms, p99 <= 100 ms. The raw Ray peer is a bare FastAPI
app on the same Serve instance doing each request's core work (one SQLite row written
or read: ``benchmarks/_raw_serve.py``), loaded the same way just before.

    python -m benchmarks --only admin_api
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from benchmarks._config import RunConfig
from benchmarks._measure import BenchmarkError
from benchmarks._report import Figure, Outcome, Row
from engine import task, workflow

NAME = "admin_api"
REPEATS = 1
CLIENTS = 8
P50_TARGET_MS = 20.0
P99_TARGET_MS = 100.0


@task
def echo(x: int) -> int:
    return x


@workflow
def echo_wf(x: int) -> int:
    return echo(x=x)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_connections = threading.local()


def _call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """One request on this thread's kept-alive connection (as an HTTP client library
    keeps one per session); reconnects when the server closed it."""
    parts = urllib.parse.urlsplit(url)
    data = json.dumps(body).encode() if body is not None else None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    for attempt in (1, 2):
        conn: http.client.HTTPConnection | None = getattr(_connections, parts.netloc, None)
        if conn is None:
            conn = http.client.HTTPConnection(parts.netloc, timeout=60)
            setattr(_connections, parts.netloc, conn)
        try:
            conn.request(method, target, body=data,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            delattr(_connections, parts.netloc)
            if attempt == 2:
                raise
            continue
        if response.status >= 400:
            raise BenchmarkError(f"{NAME}: {method} {url} answered {response.status}: "
                                 f"{payload[:300]!r}")
        return response.status, json.loads(payload)
    raise AssertionError("unreachable")


def _register(api: str) -> dict[str, Any]:
    compiled = echo_wf.compile()
    for spec in compiled.spec.tasks.values():
        _call("POST", f"{api}/tasks", {"id": spec.id.to_dict(), "spec": spec.to_dict()})
    ident = compiled.spec.id.to_dict()
    _call("POST", f"{api}/workflows", {"id": ident, "spec": compiled.spec.to_dict()})
    return ident


def _load(create_url: str, body_of: Callable[[int, int], dict[str, Any]],
          get_url: Callable[[str], str], per_client: int) -> tuple[list[float], list[float],
                                                                  list[str]]:
    """Each of ``CLIENTS`` threads creates ``per_client`` resources (POST ``create_url``
    with ``body_of(client, i)``), getting each once after creating it; returns the
    create and get latencies (ms) and the names created."""
    creates: list[float] = []
    gets: list[float] = []
    names: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            for i in range(per_client):
                start = time.perf_counter()
                status, created = _call("POST", create_url, body_of(k, i))
                took = time.perf_counter() - start
                if status != 201:
                    raise BenchmarkError(f"{NAME}: create answered {status}")
                name = created["id"]["name"]
                start = time.perf_counter()
                _call("GET", get_url(name))
                got = time.perf_counter() - start
                with lock:
                    creates.append(took * 1000)
                    gets.append(got * 1000)
                    names.append(name)
        except BaseException as e:  # reported after the threads end
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return creates, gets, names


def _wait_done(api: str, ident: dict[str, Any], names: list[str],
               timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    base = f"{api}/executions/{ident['project']}/{ident['domain']}"
    while True:
        executions = [_call("GET", f"{base}/{n}")[1] for n in names]
        phases = {e["closure"]["phase"] for e in executions}
        if phases <= {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}:
            failed = [e for e in executions if e["closure"]["phase"] != "SUCCEEDED"]
            if failed:
                raise BenchmarkError(f"{NAME}: {len(failed)} executions did not succeed: "
                                     f"{failed[0]['closure']}")
            return executions
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{NAME}: executions still {sorted(phases)} after "
                                 f"{timeout_s:g} s")
        time.sleep(0.5)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _epoch(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def measure(cfg: RunConfig) -> Outcome:
    from ray import serve

    from benchmarks import _raw_serve
    from serve.deployment import start

    port = _free_port()
    settings = dataclasses.replace(cfg.settings, admin_endpoint=f"http://127.0.0.1:{port}")
    start(settings)
    _raw_serve.run(settings.home)
    root = f"http://127.0.0.1:{port}"
    api = f"{root}/api/v1"
    per_client = 2 if cfg.quick else 4
    try:
        ident = _register(api)
        base = f"{api}/executions/{ident['project']}/{ident['domain']}"
        raw = f"{root}{_raw_serve.ROUTE_PREFIX}/rows"

        def body(k: int, i: int) -> dict[str, Any]:
            return {"project": ident["project"], "domain": ident["domain"],
                    "workflow": {"name": ident["name"], "version": ident["version"]},
                    "inputs": {"x": k * 1000 + i}}

        _load(raw, body, lambda n: f"{raw}/{n}", 1)  # warm-up of the peer
        raw_creates, raw_gets, _ = _load(raw, body, lambda n: f"{raw}/{n}", per_client)
        began = time.time()
        creates, gets, names = _load(f"{api}/executions", body, lambda n: f"{base}/{n}",
                                     per_client)
        executions = _wait_done(api, ident, names, timeout_s=600)
    finally:
        serve.shutdown()
    started = sorted(_epoch(e["closure"]["started_at"]) for e in executions)
    rate = len(started) / max(1e-9, started[-1] - began)
    rows = []
    for what, values, peer in (("create execution", creates, raw_creates),
                               ("get execution", gets, raw_gets)):
        p50, p99 = statistics.median(values), _percentile(values, 0.99)
        figure = Figure(p50, min(values), max(values), "ms", len(values),
                        text=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        raw_p50 = statistics.median(peer)
        raw_figure = Figure(raw_p50, min(peer), max(peer), "ms", len(peer),
                            text=f"p50 {raw_p50:.1f} ms, p99 {_percentile(peer, 0.99):.1f} ms")
        rows.append(Row(NAME, f"{what}, {CLIENTS} concurrent clients", figure, raw_figure,
                        f"p50 <= {P50_TARGET_MS:g} ms, p99 <= {P99_TARGET_MS:g} ms",
                        f"p50 {p50:.1f}, p99 {p99:.1f} ms",
                        p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS,
                        note=f"{len(values)} requests while the executions they create "
                             "start; raw Ray: a bare FastAPI app on Serve writing or "
                             "reading one SQLite row per request"))
    rows.append(Row(NAME, "executions started per second", Figure(rate, rate, rate, "/s", 1,
                                                                  text=f"{rate:.2f} /s"),
                    None, "none in #7", f"{rate:.2f} /s", None,
                    note=f"{len(started)} one-node executions, each its own driver actor"))
    return Outcome(rows, {"create_ms": creates, "get_ms": gets, "raw_create_ms": raw_creates,
                          "raw_get_ms": raw_gets, "started_per_s": rate})
