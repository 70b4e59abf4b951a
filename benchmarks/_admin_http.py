"""The admin API over plain HTTP, for the workloads that drive it as users do
(``admin_api``, ``executions``, ``executions_mixed``).

:class:`AdminOnServe` runs the admin on Ray Serve in the run's cluster, on loopback and
over a database of its own (as ``flyray demo start`` runs it); clients are threads,
each with a kept-alive connection (as an HTTP client library keeps one per session).
Times that the admin records (``created_at``, ``ended_at``) are the database's clock:
with SQLite on this machine, the same clock as the clients' ``time.time()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import socket
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks._measure import BenchmarkError
from engine.config import Settings
from engine.dag.spec import WorkflowSpec

CLIENTS = 8  # concurrent HTTP clients of a load
ENDED = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_connections = threading.local()


def call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """One request on this thread's kept-alive connection, reconnecting when the server
    closed it; the status and the JSON answer. An error status raises."""
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
            raise BenchmarkError(f"{method} {url} answered {response.status}: "
                                 f"{payload[:300]!r}")
        return response.status, json.loads(payload)
    raise AssertionError("unreachable: the second attempt returns or raises")


@dataclass(frozen=True)
class Load:
    """What :func:`load` did: latencies (ms) in the order they ended, names created."""

    began: float  # time.time() just before the first create was sent
    creates_ms: list[float]
    gets_ms: list[float]  # empty when the load gets nothing back
    names: list[str]


def run_clients(client: Callable[[int], None]) -> float:
    """Run ``client(k)`` for each of ``CLIENTS`` threads at once; returns when they began
    (time.time()), once every one has ended, or raises the first error one raised."""
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            client(k)
        except BaseException as e:  # reported once every thread has ended
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(CLIENTS)]
    began = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return began


def load(create_url: str, body_of: Callable[[int], dict[str, Any]], count: int,
         get_url: Callable[[str], str] | None = None) -> Load:
    """``count`` creates (POST ``create_url`` with ``body_of(i)``) sent by ``CLIENTS``
    threads, each getting what it created once (GET ``get_url(name)``) when given."""
    creates: list[float] = []
    gets: list[float] = []
    names: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(k, count, CLIENTS):
            start = time.perf_counter()
            status, created = call("POST", create_url, body_of(i))
            took = (time.perf_counter() - start) * 1000
            if status != 201:
                raise BenchmarkError(f"POST {create_url} answered {status}, not 201 "
                                     "(created): the name was taken already")
            name = created["id"]["name"]
            got: list[float] = []
            if get_url is not None:
                start = time.perf_counter()
                call("GET", get_url(name))
                got.append((time.perf_counter() - start) * 1000)
            with lock:
                creates.append(took)
                gets.extend(got)
                names.append(name)

    began = run_clients(client)
    return Load(began, creates, gets, names)


def wait_done(api: str, project: str, domain: str, names: list[str],
              timeout_s: float) -> list[dict[str, Any]]:
    """The executions once every one has ended; raises unless all SUCCEEDED."""
    deadline = time.monotonic() + timeout_s
    base = f"{api}/executions/{project}/{domain}"
    while True:
        executions = [call("GET", f"{base}/{n}")[1] for n in names]
        phases = {e["closure"]["phase"] for e in executions}
        if phases <= ENDED:
            failed = [e for e in executions if e["closure"]["phase"] != "SUCCEEDED"]
            if failed:
                raise BenchmarkError(f"{len(failed)} of {len(names)} executions did not "
                                     f"succeed; the first: {failed[0]['id']['name']}: "
                                     f"{failed[0]['closure']}")
            return executions
        if time.monotonic() > deadline:
            raise BenchmarkError(f"executions still {sorted(phases - ENDED)} after "
                                 f"{timeout_s:g} s")
        time.sleep(0.2)


def outputs(api: str, execution: dict[str, Any]) -> dict[str, Any]:
    """An execution's outputs (inline JSON values), by output name."""
    ident = execution["id"]
    _, data = call("GET", f"{api}/data/executions/{ident['project']}/{ident['domain']}/"
                          f"{ident['name']}")
    return dict(data["outputs"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def epoch(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time of the API."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def create_to_end_s(execution: dict[str, Any]) -> float:
    """created_at -> ended_at of an ended execution, by the database's clock."""
    closure = execution["closure"]
    return epoch(closure["ended_at"]) - epoch(closure["created_at"])


def timeline(api: str, execution: dict[str, Any]) -> dict[str, float]:
    """Where an ended execution's time went (seconds), from the records the API shows:
    ``to_first_node`` (created_at -> its first node attempt's start: launch, claim,
    submission, a worker), ``nodes`` (first attempt start -> last attempt end, by the
    workers' clocks) and ``recording`` (last attempt end -> ended_at). ``started_at`` is
    left out: it is written with the driver's first batch of events, which may come
    after its first node started."""
    ident, closure = execution["id"], execution["closure"]
    _, listed = call("GET", f"{api}/node_executions/{ident['project']}/{ident['domain']}/"
                            f"{ident['name']}")
    attempts = [a for n in listed["node_executions"] for a in n["attempts"]
                if a["started_at"] and a["ended_at"]]
    if not attempts:
        raise BenchmarkError(f"execution {ident['name']} ended {closure['phase']} with no "
                             "node attempt recorded")
    first = min(epoch(a["started_at"]) for a in attempts)
    last = max(epoch(a["ended_at"]) for a in attempts)
    return {"to_first_node": first - epoch(closure["created_at"]), "nodes": last - first,
            "recording": epoch(closure["ended_at"]) - last}


def median_timeline(timelines: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(t[k] for t in timelines) for k in timelines[0]}


def describe_timeline(parts: dict[str, float]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:.2f} s" for k, v in parts.items())


def register(api: str, spec: WorkflowSpec, code_uri: str | None = None,
             launch_plan: str | None = None) -> dict[str, Any]:
    """Register the workflow ``spec`` and its tasks (from ``code_uri``, if given), and a
    launch plan of it named ``launch_plan`` when given; the id executions are created
    from: the launch plan's, else the workflow's."""
    for used in spec.tasks.values():
        call("POST", f"{api}/tasks", {"id": used.id.to_dict(), "spec": used.to_dict(),
                                      "code_uri": code_uri})
    ident = spec.id.to_dict()
    call("POST", f"{api}/workflows", {"id": ident, "spec": spec.to_dict(),
                                      "code_uri": code_uri})
    if launch_plan is None:
        return ident
    plan = {**ident, "resource_type": "launch_plan", "name": launch_plan}
    call("POST", f"{api}/launch_plans", {"id": plan, "code_uri": code_uri,
                                         "spec": {"id": plan, "workflow_id": ident}})
    return plan


def execution_body(ident: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The create request of an execution of ``ident`` (a launch plan or a workflow)."""
    kind = "launch_plan" if ident["resource_type"] == "launch_plan" else "workflow"
    return {"project": ident["project"], "domain": ident["domain"],
            kind: {"name": ident["name"], "version": ident["version"]}, "inputs": inputs}


class AdminOnServe:
    """The admin API on Ray Serve in the run's cluster, over a SQLite database of its
    own (``admin-<workload>.db`` in the run's home), while the ``with`` block runs.

    On leaving, its executors are drained (``POST /api/v1/executors/drain``, as ``flyray
    demo stop`` does: they end) and Serve shuts down, so the next workload starts from
    a cluster without them.
    """

    def __init__(self, settings: Settings, workload: str) -> None:
        port = free_port()
        db = settings.home.resolve() / f"admin-{workload}.db"
        self.settings = dataclasses.replace(settings, admin_db_url=f"sqlite:///{db}",
                                            admin_endpoint=f"http://127.0.0.1:{port}")
        self.root = self.settings.admin_endpoint
        self.api = f"{self.root}/api/v1"

    def __enter__(self) -> AdminOnServe:
        # Serve and the deployment import only here: the module stays light for the
        # executors that import the workloads' workflows from it.
        from serve.deployment import start

        start(self.settings)
        return self

    def __exit__(self, *exc: object) -> None:
        from ray import serve

        try:
            call("POST", f"{self.api}/executors/drain", {"timeout_s": 30})
        finally:
            serve.shutdown()

    def executors(self) -> list[dict[str, Any]]:
        return list(call("GET", f"{self.api}/executors")[1]["executors"])

    def wait_warm(self, timeout_s: float = 120) -> None:
        """Return once the warm executor of the default project and domain reports itself
        (the supervisor starts it): its start is not part of what is measured next."""
        deadline = time.monotonic() + timeout_s
        while not any(e["warm"] and not e["stale"] for e in self.executors()):
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the admin at {self.root} started no warm executor "
                                     f"within {timeout_s:g} s")
            time.sleep(0.2)
