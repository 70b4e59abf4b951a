"""Signals: the values gate nodes (``wait_for_input``, ``approve``) of an execution wait
for, and when each gate started waiting.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds them as ``AdminStore`` methods of the same name. The gates
of an execution are those of its workflow's spec; a row exists for a gate once it
started waiting (its driver calls :func:`begin_wait`) or its signal was set
(:func:`set_signal`), whichever came first. A signal is set once, to a value its gate's
type accepts. Every time here is the database's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dag.run.state import NodePhase
from engine.dag.spec import GateKind, GateSpec, WorkflowSpec
from engine.types.literal import LiteralType, literal_matches
from serve.errors import ConflictError, InvalidArgumentError, NotFoundError
from serve.store import executions
from serve.store._models import ExecutionRow, NodeExecutionRow, SignalRow, WorkflowRow
from serve.store.database import aware, db_now
from serve.store.execution_records import ACTIVE_PHASES, ExecutionId
from serve.store.specs import canonical_json, check_json


@dataclass(frozen=True)
class GateState:
    """One gate of an execution and where it stands."""

    node_id: str
    kind: GateKind
    # The signal it waits for ("" for a sleep, which takes none) and the signal's type.
    signal_id: str
    type: LiteralType | None
    # The gate node's phase (QUEUED until it is reached, WAITING, then how it ended).
    phase: NodePhase
    waiting_since: dt.datetime | None
    # Whether the signal is set, and its value (JSON) when it is.
    is_set: bool
    value: Any
    set_at: dt.datetime | None


def list_signals(s: Session, ident: ExecutionId) -> list[GateState]:
    """The gates of the execution, in the workflow's order (none for a task's)."""
    row = executions.get_row(s, ident)
    return [_state(s, row, node_id, gate) for node_id, gate in _gates(s, row).items()]


def set_signal(s: Session, ident: ExecutionId, signal_id: str, value: Any) -> GateState:
    """Set the signal ``signal_id`` of the execution to ``value`` (JSON).

    Raises:
        NotFoundError: no such execution, or none of its gates takes that signal.
        InvalidArgumentError: ``value`` is not of the gate's type.
        ConflictError: the signal is set already, or the execution has ended.
    """
    row = executions.get_row(s, ident, lock=True)
    gates = _gates(s, row)
    found = next(((n, g) for n, g in gates.items() if g.name == signal_id), None)
    if found is None:
        names = sorted(g.name for g in gates.values() if g.name)
        raise NotFoundError(f"execution {ident} has no gate waiting for the signal "
                            f"{signal_id!r}; its signals: {', '.join(names) or 'none'}")
    node_id, gate = found
    signal_type = gate.signal_type
    assert signal_type is not None  # only gates that take a signal have a name
    check_json(value, f"signal {signal_id!r}")
    if not literal_matches(value, signal_type):
        raise InvalidArgumentError(f"signal {signal_id!r} of execution {ident} takes a value "
                                   f"of type {signal_type}, not {json.dumps(value)}")
    signal = _row(s, row.pk, node_id)
    if signal.value is not None:
        raise ConflictError(f"signal {signal_id!r} of execution {ident} is set already "
                            f"(to {signal.value}); a signal is set once")
    if row.phase not in {p.value for p in ACTIVE_PHASES}:
        raise ConflictError(f"execution {ident} has ended ({row.phase}); its signals can no "
                            "longer be set")
    signal.value, signal.set_at = canonical_json(value), db_now(s)
    s.flush()
    return _state(s, row, node_id, gate)


def begin_wait(s: Session, ident: ExecutionId, node_id: str) -> float:
    """The gate ``node_id`` of the execution waits (its driver says so, again after a
    restart): seconds since it started waiting, 0 the first time."""
    row = executions.get_row(s, ident, lock=True)  # as set_signal: one of them makes the row
    signal = _row(s, row.pk, node_id)
    now = db_now(s)
    if signal.waiting_since is None:
        signal.waiting_since = now
        s.flush()
    return max(0.0, (now - aware(signal.waiting_since)).total_seconds())


def signal_value(s: Session, ident: ExecutionId, node_id: str) -> tuple[bool, Any]:
    """Whether the signal of gate ``node_id`` is set, and its value (JSON)."""
    row = executions.get_row(s, ident)
    value = s.scalar(select(SignalRow.value).where(SignalRow.execution_pk == row.pk,
                                                   SignalRow.node_id == node_id))
    return (False, None) if value is None else (True, json.loads(value))


def _gates(s: Session, row: ExecutionRow) -> dict[str, GateSpec]:
    """The gates of the execution's workflow, by node id."""
    workflow = s.get(WorkflowRow, row.workflow_pk) if row.workflow_pk else None
    if workflow is None:
        return {}
    spec = WorkflowSpec.from_dict(json.loads(workflow.spec))
    return {n.id: n.gate for n in spec.nodes if n.gate is not None}


def _row(s: Session, execution_pk: int, node_id: str) -> SignalRow:
    """The gate's row, made when there is none yet (the callers lock the execution's row
    first, so that two of them never both make it)."""
    signal = s.scalar(select(SignalRow).where(SignalRow.execution_pk == execution_pk,
                                              SignalRow.node_id == node_id))
    if signal is None:
        signal = SignalRow(execution_pk=execution_pk, node_id=node_id)
        s.add(signal)
    return signal


def _state(s: Session, row: ExecutionRow, node_id: str, gate: GateSpec) -> GateState:
    signal = s.scalar(select(SignalRow).where(SignalRow.execution_pk == row.pk,
                                              SignalRow.node_id == node_id))
    phase = s.scalar(select(NodeExecutionRow.phase).where(
        NodeExecutionRow.execution_pk == row.pk, NodeExecutionRow.node_id == node_id))
    value = signal.value if signal is not None else None
    return GateState(
        node_id, gate.kind, gate.name, gate.signal_type,
        NodePhase(phase) if phase else NodePhase.QUEUED,
        aware(signal.waiting_since) if signal is not None and signal.waiting_since else None,
        value is not None, json.loads(value) if value is not None else None,
        aware(signal.set_at) if signal is not None and signal.set_at else None,
    )
