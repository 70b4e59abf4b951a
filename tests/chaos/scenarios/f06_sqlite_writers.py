"""F6. SQLite with many writers.

Inject: 8 driver-like writer processes (:mod:`tests.chaos.workloads_writers`), each
creating an execution and writing node events through the store's real write path as
fast as it can (5 s in the smoke run, 30 s in the full), on one SQLite file that the
admin API serves at the same time (its supervisor and scheduler write to it too), while
the API is read and one long read transaction stays open. Negative control: 8 threads
doing a deferred ``BEGIN``, a read, then a write, on a raw connection with a 100 ms busy
timeout, which R10 (``BEGIN IMMEDIATE``) exists to avoid: its "database is locked"
errors are expected and reported, never a violation.
Expected: zero errors reach a writer; rows written == writes acknowledged;
``PRAGMA integrity_check`` is ``ok``. Assert: those, and I1–I8 over the writers'
executions (each created, written and ended SUCCEEDED as a driver would).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from serve.store._models import ExecutionRow, NodeAttemptRow, NodeExecutionRow
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import check_nothing_lost
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import EXECUTIONS, Rig
from tests.chaos.workloads import chain
from tests.serve.specs import DOMAIN, PROJECT

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F6", "SQLite lock contention, 8 writers", 120
WRITERS = 8
REPO = Path(__file__).resolve().parents[3]


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    seconds = 30.0 if full else 5.0
    # The writers' executions have no executor: the supervisor must not count them lost.
    with env.rig(db="sqlite", missing_grace_s=3600.0) as rig:
        ident = rig.register(chain)
        results, reads = _load(rig, ident, seconds)
        problems, figures = _judge(rig, results, seconds)
        figures["api_reads"] = reads
        control_writes, control_locked = _control(rig.home / "control.db",
                                                  min(seconds / 2.5, 5.0))
        figures.update(control_writes=control_writes, control_locked_errors=control_locked)
        verdict = check_nothing_lost(rig, timeout_s=30)
        verdict.violations += problems
    errors = sum(len(r["errors"]) for r in results)
    return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", WRITERS, verdict,
                          api_requests=reads, api_errors=errors,
                          duration_s=time.monotonic() - began, figures=figures,
                          notes="control: deferred BEGIN read-then-write, busy timeout "
                                "100 ms (its locked errors are expected)")


def _load(rig: Rig, ident: dict[str, Any], seconds: float) -> tuple[list[dict[str, Any]], int]:
    """Run the writers, the API reads and the long reader together; returns each
    writer's result and the number of API reads."""
    writers = [subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.workloads_writers", rig.admin_url, PROJECT, DOMAIN,
         ident["name"], ident["version"], f"f6-w{i}", str(seconds),
         json.dumps({"ledger": str(rig.ledger), "key": f"f6-w{i}", "seconds": 0.0})],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for i in range(WRITERS)]
    stop, reads = threading.Event(), [0]
    try:
        for i, writer in enumerate(writers):
            assert writer.stdout is not None
            line = writer.stdout.readline().strip()
            assert line == "ready", f"writer {i} did not start: {line!r}"
            rig.accept(f"f6-w{i}")  # its create was acknowledged
        threads = [threading.Thread(target=_reader, args=(rig, stop, reads), daemon=True),
                   threading.Thread(target=_long_reader, args=(rig, stop), daemon=True)]
        for thread in threads:
            thread.start()
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        outputs = [writer.communicate(timeout=seconds + 120)[0] for writer in writers]
    finally:
        stop.set()
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    for i, writer in enumerate(writers):
        assert writer.returncode == 0, f"writer {i} exited {writer.returncode}"
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs], reads[0]


def _reader(rig: Rig, stop: threading.Event, reads: list[int]) -> None:
    """The API read all along: an execution, its nodes, the list."""
    while not stop.is_set():
        for path in (f"{EXECUTIONS}/{PROJECT}/{DOMAIN}/f6-w0",
                     f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/f6-w1",
                     f"{EXECUTIONS}/{PROJECT}/{DOMAIN}"):
            response = rig.client.get(path)
            assert response.status_code == 200, response.text
            reads[0] += 1


def _long_reader(rig: Rig, stop: threading.Event) -> None:
    """One read transaction open through the whole load (it pins the WAL)."""
    with rig.store.database.session(write=False) as session:
        while not stop.wait(0.5):
            session.scalar(select(func.count()).select_from(NodeExecutionRow))


def _judge(rig: Rig, results: list[dict[str, Any]],
           seconds: float) -> tuple[list[str], dict[str, Any]]:
    problems = []
    rows = _count(rig, NodeExecutionRow)
    attempts = _count(rig, NodeAttemptRow)
    for result in results:
        name = result["name"]
        if result["errors"]:
            locked = sum("locked" in e for e in result["errors"])
            problems.append(f"F6: writer {name} saw {len(result['errors'])} errors "
                            f"({locked} 'database is locked'): {result['errors'][:2]}")
        for what, found in (("node executions", rows), ("attempts", attempts)):
            if found.get(name, 0) != result["acked"]:
                problems.append(f"F6: {name}: {found.get(name, 0)} {what} written, "
                                f"{result['acked']} writes acknowledged")
    path = rig.admin_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        check = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    conn.close()
    if check != ["ok"]:
        problems.append(f"F6: PRAGMA integrity_check: {check[:5]}")
    latencies = sorted(x for r in results for x in r["latencies_ms"])
    acked = sum(r["acked"] for r in results)
    figures = {"seconds": seconds, "writes": acked, "events_per_s": 2 * acked / seconds,
               "write_p50_ms": _quantile(latencies, 0.50),
               "write_p99_ms": _quantile(latencies, 0.99),
               "writer_errors": sum(len(r["errors"]) for r in results)}
    return problems, figures


def _count(rig: Rig, model: Any) -> dict[str, int]:
    return rig.store.database.run(lambda s: {name: count for name, count in s.execute(
        select(ExecutionRow.name, func.count()).join(
            model, model.execution_pk == ExecutionRow.pk).group_by(ExecutionRow.name))},
        write=False)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _control(path: Path, seconds: float) -> tuple[int, int]:
    """The negative control: 8 threads of deferred read-then-write transactions with a
    100 ms busy timeout; returns (writes committed, 'database is locked' errors)."""
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER)")
    setup.close()
    counts = {"writes": 0, "locked": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work() -> None:
        conn = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        try:
            while time.monotonic() < deadline:
                try:
                    conn.execute("BEGIN")
                    n = conn.execute("SELECT coalesce(max(n), 0) FROM t").fetchone()[0]
                    conn.execute("INSERT INTO t (n) VALUES (?)", (n + 1,))
                    conn.execute("COMMIT")
                    key = "writes"
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e):
                        raise
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    key = "locked"
                with lock:
                    counts[key] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["writes"], counts["locked"]
