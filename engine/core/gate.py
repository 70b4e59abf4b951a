"""Gate nodes, as flytekit's ``sleep``, ``wait_for_input`` and ``approve``.

Each call records a node of kind "gate" in the workflow being traced (see
:mod:`engine.dag.spec.gate`); it runs no task and holds no Ray worker: the execution's
driver waits for it. In a local run, ``sleep`` is a timer and the other two read the
terminal; in a remote run they wait (phase WAITING) for a signal sent with
``flyray signal set`` or ``POST /api/v1/signals``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from engine.dag.promise import NodeHandle, Promise
from engine.dag.source import call_site
from engine.dag.spec import (
    APPROVE_INPUT,
    GATE_OUTPUT,
    GateKind,
    GateSpec,
    Node,
    OutputRef,
)
from engine.dag.trace import TRACE, Trace
from engine.errors import CompileError, ConfigError
from engine.types.literal import Kind, LiteralType, Simple
from engine.types.type_engine import TypeEngine

# A signal's name: what `flyray signal set EXECUTION NAME VALUE` takes.
_SIGNAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Scalars a signal can give: what the command line and the terminal parse.
_SIGNAL_SCALARS = {Simple.INTEGER, Simple.FLOAT, Simple.STRING, Simple.BOOLEAN,
                   Simple.DATETIME, Simple.DURATION}


def sleep(duration: dt.timedelta) -> NodeHandle:
    """A node that waits ``duration`` (after the nodes ordered before it with ``>>``),
    holding no worker; order other nodes after it with ``sleep(...) >> t()``."""
    trace = _trace("sleep")
    seconds = _seconds(duration, "sleep", "duration", allow_zero=True)
    node_id = _add(trace, GateSpec(GateKind.SLEEP, duration_s=seconds), ())
    return NodeHandle(node_id, trace.workflow, {})


def wait_for_input(name: str, timeout: dt.timedelta, expected_type: Any) -> Promise:
    """A node whose output is a value of ``expected_type`` given while the execution
    waits: typed at the terminal in a local run, sent as the signal ``name`` to a remote
    one. The node fails when no value arrives within ``timeout``."""
    trace = _trace("wait_for_input")
    _check_name(name, "wait_for_input")
    seconds = _seconds(timeout, f"wait_for_input '{name}'", "timeout")
    literal = _signal_type(expected_type, name)
    gate = GateSpec(GateKind.INPUT, name, timeout_s=seconds, type=literal)
    node_id = _add(trace, gate, ())
    return Promise(OutputRef(node_id, GATE_OUTPUT), literal, trace.workflow,
                   f"value of wait_for_input '{name}'")


def approve(upstream_item: Any, name: str, timeout: dt.timedelta) -> Any:
    """Pass ``upstream_item`` (a task's output, or a node) on once the signal ``name``
    approves it (True); a rejection (False) or ``timeout`` without an answer fails the
    node. Returns a promise of the same value, or the gate's node for a node."""
    trace = _trace("approve")
    _check_name(name, "approve")
    seconds = _seconds(timeout, f"approve '{name}'", "timeout")
    if isinstance(upstream_item, NodeHandle):
        _same_workflow(trace, upstream_item.workflow, name)
        gate = GateSpec(GateKind.APPROVE, name, timeout_s=seconds)
        node_id = _add(trace, gate, (), upstream=(upstream_item.id,))
        return NodeHandle(node_id, trace.workflow, {})
    if not isinstance(upstream_item, Promise):
        raise CompileError(
            f"approve '{name}' (at {call_site()}): approves one output of a task or "
            f"a node (create_node), got {type(upstream_item).__name__}; for a task with "
            "several outputs, approve one of them and use the others after it")
    _same_workflow(trace, upstream_item.workflow, name)
    gate = GateSpec(GateKind.APPROVE, name, timeout_s=seconds, type=upstream_item.type)
    node_id = _add(trace, gate, ((APPROVE_INPUT, upstream_item.ref),))
    return Promise(OutputRef(node_id, GATE_OUTPUT), upstream_item.type, trace.workflow,
                   f"approved {upstream_item.origin}")


def _trace(what: str) -> Trace:
    trace = TRACE.get()
    if trace is None:
        raise CompileError(f"{what}() (at {call_site()}) makes a gate node of a workflow: "
                           "call it inside a @workflow body")
    if trace.runtime_values is not None:
        raise CompileError(f"{what}() (at {call_site()}) in @dynamic '{trace.workflow}': "
                           "gates are nodes of a @workflow; move the gate into the "
                           "workflow that calls the dynamic task")
    return trace


def _add(trace: Trace, gate: GateSpec, inputs: tuple[tuple[str, OutputRef], ...],
         upstream: tuple[str, ...] = ()) -> str:
    node_id = f"n{trace.next_id()}"
    trace.add_node(Node(node_id, "", inputs, extra_upstream=upstream, source=call_site(),
                        gate=gate))
    trace.output_types[node_id] = {GATE_OUTPUT: gate.type} if gate.type is not None else {}
    return node_id


def _same_workflow(trace: Trace, workflow: str, name: str) -> None:
    if workflow != trace.workflow:
        raise CompileError(f"workflow '{trace.workflow}': approve '{name}' of a node of "
                           f"workflow '{workflow}'")


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not _SIGNAL_NAME.match(name):
        raise ConfigError(f"{what}(name={name!r}) (at {call_site()}): the name is the "
                          "signal's: 1 to 100 letters, digits, '_', '.' or '-', starting "
                          "with a letter or digit")


def _seconds(value: Any, what: str, arg: str, allow_zero: bool = False) -> float:
    if not isinstance(value, dt.timedelta):
        raise ConfigError(f"{what} (at {call_site()}): {arg} must be a datetime.timedelta, "
                          f"got {value!r}")
    seconds = value.total_seconds()
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{what} (at {call_site()}): {arg} must be positive, got {value}")
    return seconds


def _signal_type(expected_type: Any, name: str) -> LiteralType:
    """The literal type of ``expected_type``, when a signal can give its values."""
    try:
        literal = TypeEngine.to_literal_type(expected_type)
    except (TypeError, ValueError) as e:
        raise CompileError(f"wait_for_input '{name}': expected_type {expected_type!r}: {e}") \
            from None
    if not _signalable(literal):
        raise CompileError(
            f"wait_for_input '{name}' (at {call_site()}): expected_type {literal} cannot be "
            "given as a signal; use int, float, str, bool, datetime, timedelta, or a list "
            "or dict[str, ...] of them")
    return literal


def _signalable(literal: LiteralType) -> bool:
    if literal.kind is Kind.SIMPLE:
        return literal.simple in _SIGNAL_SCALARS
    if literal.kind in (Kind.LIST, Kind.MAP):
        return literal.item is not None and _signalable(literal.item)
    return False
