"""One checker run after every fault scenario: nothing accepted was lost, nothing was
done twice, every history is valid, and nothing leaked (RELIABILITY.md, I1–I8).

- I1 no loss: every execution a create request got a 2xx for has its row, and reaches a
  terminal phase before the deadline: SUCCEEDED, or the failure the scenario expects.
- I2 no duplicates: no execution the client never asked for (a retried create made a
  second one), no two scheduled executions of one (launch plan, fire time).
- I3 valid histories: attempts of a node are numbered 1..n, every one ended, only the
  last may have succeeded, a SUCCEEDED node's last attempt succeeded (or it was a cache
  hit), and a SUCCEEDED execution has only succeeded, recovered or skipped nodes.
- I4 durable outputs: every blob a SUCCEEDED node's outputs refer to exists.
- I5 effects: at most one committed effect per (execution, node) in the ledger, exactly
  one for every node of a SUCCEEDED execution that ran, and no more body starts than
  ``1 + max_extra_starts``.
- I6 cache: every catalog entry's blobs exist.
- I7 no leaks: no executor still drives an ended execution, every CPU of the cluster is
  free again, no temporary file is left in a local blob store.
- I8 bounded recovery: progress resumed within ``recovery_bound_s`` of the fault
  (:func:`recovery_s` measures it).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from sqlalchemy import create_engine, func, select

from engine.catalog.blob import BlobStore, StorageConfig
from serve.control.launcher import NAMESPACE, executor_names
from serve.store._models import ExecutionRow, NodeAttemptRow, NodeExecutionRow
from tests.chaos.rig import TERMINAL, Rig

DONE_NODE_PHASES = ("SUCCEEDED", "RECOVERED", "SKIPPED")


@dataclass
class Verdict:
    """What the checker found; ``violations`` empty means every invariant held."""

    accepted: int = 0
    succeeded: int = 0
    failed_as_expected: int = 0
    lost: int = 0
    duplicated: int = 0
    reexecuted: int = 0  # node attempts beyond each node's first
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, invariant: str, message: str) -> None:
        self.violations.append(f"{invariant}: {message}")

    def add(self, other: Verdict, label: str = "") -> None:
        """Count ``other`` (a variant's, or one round's) in this one; ``label`` prefixes
        its violations."""
        self.accepted += other.accepted
        self.succeeded += other.succeeded
        self.failed_as_expected += other.failed_as_expected
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.reexecuted += other.reexecuted
        self.violations += [f"{label}{v}" for v in other.violations]


def check_nothing_lost(rig: Rig, *, expect_failed: Collection[str] = (),
                       max_extra_starts: int = 1, timeout_s: float = 120.0,
                       fault_at: float | None = None,
                       recovery_bound_s: float | None = None) -> Verdict:
    """Check I1–I8 over the executions ``rig`` accepted (waits up to ``timeout_s`` for
    them to end). ``expect_failed``: executions the scenario means to fail."""
    verdict = Verdict(accepted=len(rig.accepted))
    phases = rig.wait(timeout_s=timeout_s)
    rows = _executions(rig)
    _no_loss(verdict, rig, phases, rows, set(expect_failed))
    _no_duplicates(verdict, rig, rows)
    attempts, nodes = _attempts(rig), _nodes(rig)
    _histories(verdict, rows, nodes, attempts)
    storage = StorageConfig.from_settings(rig.settings)
    _outputs(verdict, BlobStore(storage), nodes)
    _effects(verdict, rig, rows, max_extra_starts)
    _cache(verdict, rig, BlobStore(storage))
    _leaks(verdict, rig, rows, storage)
    if fault_at is not None and recovery_bound_s is not None:
        took = recovery_s(rig, fault_at)
        if took is None or took > recovery_bound_s:
            verdict.fail("I8", f"no progress within {recovery_bound_s} s of the fault "
                         f"(took {took})")
    return verdict


def assert_nothing_lost(rig: Rig, **options: Any) -> Verdict:
    """:func:`check_nothing_lost`, failing with every violation when one is found."""
    verdict = check_nothing_lost(rig, **options)
    assert verdict.ok, "invariants broken:\n" + "\n".join(verdict.violations)
    return verdict


def recovery_s(rig: Rig, fault_at: float) -> float | None:
    """Seconds from ``fault_at`` (``time.time()``) to the first attempt that started or
    ended after it: how long progress stopped."""

    def first(session: Any) -> Any:
        started = session.scalar(select(func.min(NodeAttemptRow.started_at))
                                 .where(NodeAttemptRow.started_at > fault_at))
        ended = session.scalar(select(func.min(NodeAttemptRow.ended_at))
                               .where(NodeAttemptRow.ended_at > fault_at))
        return min((t for t in (started, ended) if t is not None), default=None)

    found = rig.store.database.run(first, write=False)
    return None if found is None else float(found) - fault_at


# --- the invariants -----------------------------------------------------------------------


def _executions(rig: Rig) -> dict[str, ExecutionRow]:
    found = rig.store.database.run(lambda s: list(s.scalars(select(ExecutionRow))),
                                   write=False)
    return {row.name: row for row in found}


def _attempts(rig: Rig) -> list[NodeAttemptRow]:
    return rig.store.database.run(lambda s: list(s.scalars(select(NodeAttemptRow))),
                                  write=False)


def _nodes(rig: Rig) -> list[NodeExecutionRow]:
    return rig.store.database.run(lambda s: list(s.scalars(select(NodeExecutionRow))),
                                  write=False)


def _no_loss(verdict: Verdict, rig: Rig, phases: dict[str, str],
             rows: dict[str, ExecutionRow], expect_failed: set[str]) -> None:
    for name in rig.accepted:
        row = rows.get(name)
        if row is None:
            verdict.lost += 1
            verdict.fail("I1", f"execution {name} was accepted but has no row")
            continue
        phase = phases.get(name, row.phase)
        if phase not in TERMINAL:
            verdict.lost += 1
            verdict.fail("I1", f"execution {name} is still {phase} past the deadline")
        elif phase == "SUCCEEDED" and name not in expect_failed:
            verdict.succeeded += 1
        elif phase != "SUCCEEDED" and name in expect_failed:
            verdict.failed_as_expected += 1
        else:
            verdict.fail("I1", f"execution {name} ended {phase}"
                         f"{' (expected to fail)' if name in expect_failed else ''}: "
                         f"{row.error_kind} {row.error_message}")


def _no_duplicates(verdict: Verdict, rig: Rig, rows: dict[str, ExecutionRow]) -> None:
    scheduled = Counter((row.launch_plan_pk, row.scheduled_at) for row in rows.values()
                        if row.scheduled_at is not None)
    for (plan, at), count in scheduled.items():
        if count > 1:
            verdict.duplicated += count - 1
            verdict.fail("I2", f"{count} executions of launch plan #{plan} for {at}")
    # Scheduled, relaunched and recovered executions are made by the system or by a
    # request of their own kind; a MANUAL one nobody was answered 2xx for is a duplicate.
    for name, row in rows.items():
        if name not in rig.accepted and row.mode == "MANUAL":
            verdict.duplicated += 1
            verdict.fail("I2", f"execution {name} exists though no client asked for it")


def _histories(verdict: Verdict, rows: dict[str, ExecutionRow],
               nodes: list[NodeExecutionRow], attempts: list[NodeAttemptRow]) -> None:
    by_pk = {row.pk: row for row in rows.values()}
    tries: dict[tuple[int, str], list[NodeAttemptRow]] = {}
    for attempt in attempts:
        tries.setdefault((attempt.execution_pk, attempt.node_id), []).append(attempt)
    for node in nodes:
        execution = by_pk[node.execution_pk]
        if execution.phase not in TERMINAL:
            continue
        where = f"execution {execution.name} node {node.node_id}"
        made = sorted(tries.get((node.execution_pk, node.node_id), []),
                      key=lambda a: a.attempt)
        verdict.reexecuted += max(0, len(made) - 1)
        if [a.attempt for a in made] != list(range(1, len(made) + 1)):
            verdict.fail("I3", f"{where}: attempts numbered {[a.attempt for a in made]}")
        for attempt in made:
            if attempt.outcome is None or attempt.ended_at is None:
                verdict.fail("I3", f"{where}: attempt {attempt.attempt} never ended")
            elif attempt.ended_at < attempt.started_at:
                verdict.fail("I3", f"{where}: attempt {attempt.attempt} ended before it "
                             "started")
        if any(a.outcome == "SUCCEEDED" for a in made[:-1]):
            verdict.fail("I3", f"{where}: an attempt ran after one succeeded")
        if node.phase == "SUCCEEDED" and made and made[-1].outcome != "SUCCEEDED":
            verdict.fail("I3", f"{where}: SUCCEEDED, but its last attempt "
                         f"{made[-1].outcome}")
        if execution.phase == "SUCCEEDED" and node.phase not in DONE_NODE_PHASES:
            verdict.fail("I3", f"{where}: {node.phase} in a SUCCEEDED execution")


def _uris(value: Any, root: str) -> Iterator[str]:
    """Every string under ``root`` in a JSON value."""
    if isinstance(value, str):
        if value.startswith(root):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _uris(item, root)
    elif isinstance(value, list):
        for item in value:
            yield from _uris(item, root)


def _outputs(verdict: Verdict, blobs: BlobStore, nodes: list[NodeExecutionRow]) -> None:
    root = blobs.config.root.rstrip("/")
    for node in nodes:
        if node.phase != "SUCCEEDED" or not node.outputs:
            continue
        for uri in _uris(json.loads(node.outputs), root):
            if not blobs.exists(uri):
                verdict.fail("I4", f"node {node.node_id}'s output {uri} is missing")


def _effects(verdict: Verdict, rig: Rig, rows: dict[str, ExecutionRow],
             max_extra_starts: int) -> None:
    commits, starts = rig.ledger.commits(), rig.ledger.starts()
    for (key, label), count in commits.items():
        if count > 1:
            verdict.duplicated += count - 1
            verdict.fail("I5", f"{key}/{label}: effect committed {count} times")
    for (key, label), count in starts.items():
        if count > 1 + max_extra_starts:
            verdict.fail("I5", f"{key}/{label}: ran {count} times, more than 1 + "
                         f"{max_extra_starts} faults explain")
        row = rows.get(key)
        if row is not None and row.phase == "SUCCEEDED" and commits[(key, label)] != 1:
            verdict.fail("I5", f"{key}/{label}: SUCCEEDED with "
                         f"{commits[(key, label)]} committed effects")


def _cache(verdict: Verdict, rig: Rig, blobs: BlobStore) -> None:
    from engine.catalog._models import Artifact

    url = rig.settings.catalog_url_or_default
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return  # no task was cached: no catalog was made
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            try:
                uris = [list(row[0] or []) for row in conn.execute(select(Artifact.blob_uris))]
            except Exception:  # no catalog tables: nothing was cached  # noqa: BLE001
                return
    finally:
        engine.dispose()
    for uri in (u for group in uris for u in group):
        if not blobs.exists(uri):
            verdict.fail("I6", f"a catalog entry refers to missing blob {uri}")


def _held(ended: set[str]) -> list[tuple[str, str]]:
    """(executor, execution) for every ended execution an executor still drives."""
    held = []
    for executor in executor_names():
        with contextlib.suppress(Exception):  # gone meanwhile: nothing it drives
            handle = ray.get_actor(executor, namespace=NAMESPACE)
            held += [(executor, ident.name) for ident, _ in
                     ray.get(handle.driving.remote(), timeout=10) if ident.name in ended]
    return held


def _leaks(verdict: Verdict, rig: Rig, rows: dict[str, ExecutionRow],
           storage: StorageConfig) -> None:
    ended = {name for name, row in rows.items() if row.phase in TERMINAL}
    # A driver may still be writing its last events or learning it was fenced: it has a
    # few heartbeats to let go, as the CPUs below have to be freed.
    deadline = time.monotonic() + 15
    while (held := _held(ended)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for executor, name in held:
        verdict.fail("I7", f"executor {executor} still drives ended execution {name}")
    deadline = time.monotonic() + 15
    while (free := ray.available_resources().get("CPU", 0.0)) \
            < (total := ray.cluster_resources().get("CPU", 0.0)):
        if time.monotonic() > deadline:
            verdict.fail("I7", f"only {free} of {total} CPUs free after the scenario")
            break
        time.sleep(0.2)
    if storage.root.startswith("file://"):
        root = Path(storage.root.removeprefix("file://"))
        leftovers = [p for p in root.rglob("*") if p.is_file() and ".tmp" in p.name]
        if leftovers:
            verdict.fail("I7", f"temporary files left in the blob store: {leftovers[:5]}")
