"""A driver-like writer of the admin database, run as a process of its own by F6
(``python -m tests.chaos.workloads_writers URL PROJECT DOMAIN WORKFLOW VERSION NAME
SECONDS INPUTS``).

It creates execution ``NAME`` of the registered workflow through the store, claims it
as a driver would, prints ``ready`` and waits for a line on stdin (so every writer
starts together), then writes node events through the store's real write path
(``record_events``: one node SUCCEEDED and its ended attempt per write) as fast as it
can for SECONDS, ends the execution SUCCEEDED, and prints one JSON line: the writes the
store acknowledged, every error a caller saw, and each write's latency in ms.

Imports only the store, so eight of them start quickly.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from engine.dag.run.state import ExecutionPhase, NodePhase
from serve.store import AdminStore
from serve.store.execution_records import (
    AttemptEvent,
    Event,
    ExecutionId,
    ExecutionRequest,
    ExecutionStarted,
    NodeAttempt,
    NodeEvent,
    TargetKind,
)


def write(url: str, ident: ExecutionId, workflow: str, version: str, seconds: float,
          inputs: dict[str, Any]) -> dict[str, Any]:
    store = AdminStore(url)
    try:
        _, created, tickets = store.create_execution(ExecutionRequest(
            ident.project, ident.domain, ident.name, TargetKind.WORKFLOW, workflow, version,
            inputs))
        claim = store.claim_driver(ident, tickets[0].launch)
        assert created and claim is not None, f"{ident}: created {created}, claim {claim}"
        store.record_events(ident, claim.incarnation, [ExecutionStarted(ident.name)])
        print("ready", flush=True)
        sys.stdin.readline()
        acked, errors, latencies = 0, [], []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            node, now = f"w{acked}", time.time()
            events: list[Event] = [
                NodeEvent(node, "f6.write", acked, NodePhase.SUCCEEDED),
                AttemptEvent(node, NodeAttempt(1, now, now, NodePhase.SUCCEEDED, None, None,
                                               None, {}))]
            start = time.monotonic()
            try:
                store.record_events(ident, claim.incarnation, events)
            except Exception as e:  # noqa: BLE001 - every error a caller sees is counted
                errors.append(f"{type(e).__name__}: {e}"[:300])
                continue
            latencies.append(1000 * (time.monotonic() - start))
            acked += 1
        store.finish_execution(ident, claim.incarnation, ExecutionPhase.SUCCEEDED)
        return {"name": ident.name, "acked": acked, "errors": errors, "latencies_ms": latencies}
    finally:
        store.close()


if __name__ == "__main__":
    url, project, domain, workflow, version, name, seconds, inputs = sys.argv[1:9]
    print(json.dumps(write(url, ExecutionId(project, domain, name), workflow, version,
                           float(seconds), json.loads(inputs))), flush=True)
