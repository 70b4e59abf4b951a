"""F11. Duplicate create-execution requests.

Inject: 50 concurrent POSTs of one create request (same execution name, same body);
the same name with another body; and a create whose server fails after the commit,
before it answers (failpoint ``api.after_commit_before_response``, action ``raise``: the
client gets no answer it can use), which the client then retries.
Expected: one execution per name; every 2xx names it, with one creation time (201 for
the request that made it, 200 for the others: the API's documented answer to the same
named request again); the other body gets 409 ``ALREADY_EXISTS``; the retry after the
failure gets 200 with the execution the failed request made. Assert: I1–I8 (I2: no
execution nobody was answered for), ``count == 1`` per name.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from engine.failpoints import FailpointError
from serve.store._models import ExecutionRow
from tests.chaos.environment import ChaosEnv
from tests.chaos.invariants import Verdict, check_nothing_lost
from tests.chaos.report import ScenarioResult
from tests.chaos.rig import EXECUTIONS, Rig
from tests.chaos.workloads import chain

SCENARIO, TITLE, SMOKE_TIMEOUT_S = "F11", "duplicate create requests", 120
CONCURRENT = 50
FAILPOINT = "api.after_commit_before_response"
# The launch rate limit's burst (200 by default) would refuse the full run's creates.
UNLIMITED = 100_000


def run(env: ChaosEnv, full: bool) -> ScenarioResult:
    began = time.monotonic()
    backends = ("sqlite", "postgresql") if full else ("sqlite",)
    rounds = 5 if full else 1
    verdict, figures = Verdict(), {}
    requests = errors = faults = 0
    for db in backends:
        with env.rig(db=db, admin_launch_rate_burst=UNLIMITED) as rig:
            ident = rig.register(chain)
            found, stats = _scenario(env, rig, ident, rounds)
            requests, errors, faults = (requests + stats["requests"],
                                        errors + stats["errors"], faults + 1)
            figures.update({f"{db}_{k}": v for k, v in stats.items()
                            if k not in ("requests", "errors")})
            checked = check_nothing_lost(rig, timeout_s=60)
            verdict.add(checked)
            verdict.violations += [f"{db}: {v}" for v in found]
    return ScenarioResult(SCENARIO, TITLE, "full" if full else "smoke", faults, verdict,
                          api_requests=requests, api_errors=errors,
                          duration_s=time.monotonic() - began, figures=figures,
                          notes="failpoint action raise (the admin runs in this process)")


def _scenario(env: ChaosEnv, rig: Rig, ident: dict[str, Any],
              rounds: int) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    stats: dict[str, Any] = {"requests": 0, "errors": 0}
    latencies: list[float] = []
    for i in range(rounds):
        name = f"f11-dup-{i}"
        answers = _concurrent_creates(rig, rig.body(ident, name, seconds=0.0))
        stats["requests"] += len(answers)
        latencies += [a["took"] for a in answers]
        problems += _same_execution(rig, name, answers)
        other = rig.client.post(EXECUTIONS, json=rig.body(ident, name, seconds=1.0))
        stats["requests"] += 1
        kind = other.json().get("error", {}).get("kind") if other.status_code >= 400 else None
        if other.status_code != 409 or kind != "ALREADY_EXISTS":
            problems.append(f"F11: {name} with another body answered {other.status_code} "
                            f"{other.text[:200]}, not 409 ALREADY_EXISTS")
    crashed, retried = _crash_then_retry(env, rig, ident)
    stats["requests"] += 2
    stats["errors"] += 1
    problems += crashed
    stats["retry_after_crash"] = retried
    latencies.sort()
    stats["create_p50_ms"] = 1000 * latencies[len(latencies) // 2]
    stats["create_max_ms"] = 1000 * latencies[-1]
    problems += _one_row_each(rig)
    return problems, stats


def _concurrent_creates(rig: Rig, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST ``body`` from ``CONCURRENT`` threads released together."""
    gate = threading.Barrier(CONCURRENT)

    def post(_: int) -> dict[str, Any]:
        gate.wait()
        start = time.monotonic()
        response = rig.client.post(EXECUTIONS, json=body)
        found = response.json()
        ok = response.status_code in (200, 201)
        return {"status": response.status_code, "took": time.monotonic() - start,
                "id": found.get("id") if ok else None,
                "created_at": found["closure"]["created_at"] if ok else None,
                "text": "" if ok else response.text[:200]}

    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(post, range(CONCURRENT)))
    if any(a["status"] in (200, 201) for a in answers):
        rig.accept(body["name"])
    return answers


def _same_execution(rig: Rig, name: str, answers: list[dict[str, Any]]) -> list[str]:
    problems = []
    statuses = Counter(a["status"] for a in answers)
    if statuses != Counter({201: 1, 200: CONCURRENT - 1}):
        failed = [a["text"] for a in answers if a["status"] not in (200, 201)][:3]
        problems.append(f"F11: {CONCURRENT} identical creates of {name} answered "
                        f"{dict(statuses)}, not one 201 and {CONCURRENT - 1} 200 {failed}")
    seen = {(str(a["id"]), a["created_at"]) for a in answers if a["status"] in (200, 201)}
    if len(seen) != 1:
        problems.append(f"F11: the 2xx answers for {name} name {len(seen)} executions: "
                        f"{sorted(seen)[:3]}")
    return problems


def _crash_then_retry(env: ChaosEnv, rig: Rig,
                      ident: dict[str, Any]) -> tuple[list[str], int | None]:
    """A create whose server fails after its commit, then the client's retry; returns
    the problems and the retry's status."""
    name, problems = "f11-crash", []
    body = rig.body(ident, name, seconds=0.0)
    env.set_failpoints({FAILPOINT: {"action": "raise", "times": 1}})
    try:
        try:
            first = rig.client.post(EXECUTIONS, json=body)
            failed = first.status_code >= 500
        except FailpointError:  # the in-process server's error reaches the client
            failed = True
        if not failed or env.fired(FAILPOINT) != 1:
            problems.append(f"F11: failpoint {FAILPOINT} did not fail the create "
                            f"(fired {env.fired(FAILPOINT)} times)")
    finally:
        env.set_failpoints({})
    retry = rig.client.post(EXECUTIONS, json=body)
    if retry.status_code in (200, 201):
        rig.accept(name)
    if retry.status_code != 200:
        problems.append(f"F11: the retry after the failure answered {retry.status_code} "
                        f"{retry.text[:200]}, not 200 with the execution already made")
    return problems, retry.status_code


def _one_row_each(rig: Rig) -> list[str]:
    counts = rig.store.database.run(lambda s: dict(s.execute(
        select(ExecutionRow.name, func.count()).group_by(ExecutionRow.name)).all()),
        write=False)
    return [f"F11: {count} executions named {name}" for name, count in counts.items()
            if count != 1] + [f"F11: accepted {name} has no execution" for name in rig.accepted
                              if name not in counts]
