"""F5. The admin database unavailable for N seconds (5 in the smoke run, 30 in the full).

Inject: executions of ``chain`` run (their middle node naps through the outage); then
PostgreSQL is stopped as a crash would (``pg_ctl stop -m immediate``), or, on SQLite, a
second connection holds ``BEGIN EXCLUSIVE``; a client keeps calling the API (reads, and
creates under fixed names) all along; after N seconds the database is back.
Expected: every call answers 2xx or 503 with ``Retry-After``, never 500 and never a hang;
the running executions go on (their drivers buffer events and retry) and succeed with no
driver restart, since the outage is shorter than the liveness tolerance
(``stale_after_s``, 60 s by default); a create the outage refused succeeds when the
client retries it. Assert: I1–I8; the API's answers; no driver restart.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from serve.store._models import ExecutionRow
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost, recovery_s
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import EXECUTIONS, Rig
from tests.chaos.workloads import chain
from tests.serve.specs import DOMAIN, PROJECT

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F5", "admin database down", 150
# A call that answers later than this hangs (the longest a client should wait).
HANG_S = 35.0
# The product's default liveness tolerance: a driver silent this long counts as lost.
TOLERANCE_S = 60.0
CREATE_NAMES = 3  # the client's creates cycle over these names (retries are idempotent)
# The launch rate limit's burst: the client's creates in a long outage are over 200.
UNLIMITED = 100_000


@dataclass
class Call:
    """One API call of the client: what, when (monotonic), its answer and latency."""

    what: str
    at: float
    status: int | str
    took: float
    retry_after: str | None = None


@dataclass
class Client:
    """The client loop: reads and fixed-name creates, in a thread, until stopped."""

    rig: Rig
    ident: dict[str, Any]
    prefix: str
    watched: str
    calls: list[Call] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def body(self, i: int) -> dict[str, Any]:
        return self.rig.body(self.ident, f"{self.prefix}-new-{i}", seconds=0.0)

    def loop(self) -> None:
        i = 0
        while not self.stop.is_set():
            name, body = f"{self.prefix}-new-{i % CREATE_NAMES}", self.body(i % CREATE_NAMES)
            self.call("read", lambda: self.rig.client.get(
                f"{EXECUTIONS}/{PROJECT}/{DOMAIN}/{self.watched}"))
            self.call("list", lambda: self.rig.client.get(f"{EXECUTIONS}/{PROJECT}/{DOMAIN}"))
            if self.call("create", functools.partial(
                    self.rig.client.post, EXECUTIONS, json=body)) in (200, 201):
                self.rig.accept(name)
            i += 1
            self.stop.wait(0.1)

    def call(self, what: str, send: Callable[[], Any]) -> int | str:
        start = time.monotonic()
        try:
            response = send()
            status: int | str = response.status_code
            retry_after = response.headers.get("retry-after")
        except Exception as e:  # noqa: BLE001 - the in-process server crashed: a 500
            status, retry_after = f"raised {type(e).__name__}: {e}"[:200], None
        self.calls.append(Call(what, start, status, time.monotonic() - start, retry_after))
        return status


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    outage_s = 30.0 if full else 5.0
    count = 4 if full else 1
    verdict, figures, notes = Verdict(), {}, []
    requests = errors = 0
    recovery: float | None = None
    for db in ("postgresql", "sqlite"):
        with env.rig(db=db, stale_after_s=TOLERANCE_S,
                     admin_launch_rate_burst=UNLIMITED) as rig:
            found, calls, stats, fault_at = _variant(env, rig, db, count, outage_s)
            checked = check_nothing_lost(rig, timeout_s=90, fault_at=fault_at,
                                         recovery_bound_s=outage_s + 30)
            verdict.add(checked, f"{db}: ")
            verdict.violations += [f"{db}: {v}" for v in found]
            took = recovery_s(rig, fault_at)
            recovery = took if recovery is None or took is None else max(recovery, took)
            figures.update({f"{db}_{k}": v for k, v in stats.items()})
            requests += len(calls)
            errors += sum(1 for c in calls if not (isinstance(c.status, int)
                                                   and c.status < 500))
        notes.append(f"{db}: {_outage_of[db]}")
    return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", 2, verdict,
                          recovery_s=recovery, api_requests=requests, api_errors=errors,
                          duration_s=time.monotonic() - began, figures=figures,
                          notes="; ".join(notes))


_outage_of = {"postgresql": "pg_ctl stop -m immediate, then start",
              "sqlite": "a second connection holds BEGIN EXCLUSIVE"}


def _variant(env: ChaosEnv, rig: Rig, db: str, count: int, outage_s: float
             ) -> tuple[list[str], list[Call], dict[str, Any], float]:
    ident = rig.register(chain)
    names = [rig.launch(ident, f"f5-{db}-{i}", seconds=outage_s + 4) for i in range(count)]
    rig.wait_until(lambda: all(rig.ledger.running_pid(n, "b") for n in names),
                   timeout_s=60, what="every execution's node b to run")
    client = Client(rig, ident, f"f5-{db}", names[0])
    thread = threading.Thread(target=client.loop, name="f5-client", daemon=True)
    thread.start()
    fault_at = time.time()
    down = time.monotonic()
    try:
        with _outage(env, rig, db):
            time.sleep(outage_s)  # the fault's length: nothing to wait for
        up = time.monotonic()
        rig.wait_until(lambda: any(c.at >= up and c.status == 200 for c in client.calls),
                       timeout_s=HANG_S + 30, what="the API to answer after the outage")
    finally:
        client.stop.set()
        thread.join(HANG_S + 30)
    catch_up = min(c.at + c.took for c in client.calls if c.at >= up and c.status == 200) - up
    retried = _retry_refused(rig, client)
    problems = _judge(client.calls, down, up) + retried
    problems += _no_restarts(rig, names)
    window = [c for c in client.calls if down <= c.at < up]
    stats = {"outage_s": outage_s, "calls_in_outage": len(window),
             "503_in_outage": sum(1 for c in window if c.status == 503),
             "max_call_s": max(c.took for c in client.calls), "catch_up_s": catch_up}
    return problems, client.calls, stats, fault_at


@contextlib.contextmanager
def _outage(env: ChaosEnv, rig: Rig, db: str) -> Iterator[None]:
    """The database unavailable for the block (always back after it)."""
    if db == "postgresql":
        env.postgres.stop(mode="immediate")
        try:
            yield
        finally:
            env.postgres.start()
        return
    path = rig.admin_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _judge(calls: list[Call], down: float, up: float) -> list[str]:
    """Every answer 2xx or 503 with Retry-After; none later than ``HANG_S``."""
    problems = []
    for c in calls:
        when = "during" if down <= c.at < up else "outside"
        if not isinstance(c.status, int) or not (c.status < 300 or c.status == 503):
            problems.append(f"F5: {c.what} {when} the outage answered {c.status}")
        elif c.status == 503 and not c.retry_after:
            problems.append(f"F5: {c.what} {when} the outage answered 503 without "
                            "Retry-After")
        if c.took > HANG_S:
            problems.append(f"F5: {c.what} {when} the outage took {c.took:.1f} s (a hang)")
    return sorted(set(problems))


def _retry_refused(rig: Rig, client: Client) -> list[str]:
    """The client retries each create never answered 2xx; it must succeed now."""
    problems = []
    for i in range(CREATE_NAMES):
        name = f"{client.prefix}-new-{i}"
        if name in rig.accepted:
            continue
        response = rig.client.post(EXECUTIONS, json=client.body(i))
        if response.status_code in (200, 201):
            rig.accept(name)
        else:
            problems.append(f"F5: create {name} retried after the outage answered "
                            f"{response.status_code}: {response.text[:200]}")
    return problems


def _no_restarts(rig: Rig, names: list[str]) -> list[str]:
    restarts = rig.store.database.run(lambda s: dict(s.execute(
        select(ExecutionRow.name, ExecutionRow.driver_restarts)
        .where(ExecutionRow.name.in_(names))).all()), write=False)
    return [f"F5: execution {n}'s driver was restarted {k} times by an outage shorter "
            f"than the {TOLERANCE_S:g} s tolerance" for n, k in restarts.items() if k]
