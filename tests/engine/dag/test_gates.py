"""Gate nodes (sleep, wait_for_input, approve): compiled form and local runs."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator

import pytest

from engine.core.gate import approve, sleep, wait_for_input
from engine.dag.run.executor import run
from engine.dag.run.gate_prompt import TerminalSignals
from engine.dag.run.state import NodePhase
from engine.dag.spec import GateKind, WorkflowSpec
from engine.errors import CompileError, ConfigError, NodeFailedError
from tests.fixtures import gate_wfs as wfs


def test_gates_are_nodes_of_kind_gate_in_the_spec() -> None:
    spec = wfs.approved_double.compile().spec
    gate = spec.node("n1").gate
    assert gate is not None and gate.kind is GateKind.APPROVE and gate.name == "ok"
    assert spec.node("n1").task == "" and str(gate.type) == "int"
    assert WorkflowSpec.from_dict(spec.to_dict()) == spec
    assert "gate" not in spec.node("n0").to_dict()  # other nodes' JSON is unchanged


def test_gates_outside_a_workflow_are_an_error() -> None:
    with pytest.raises(CompileError, match="inside a @workflow"):
        sleep(dt.timedelta(seconds=1))
    with pytest.raises(CompileError, match="inside a @workflow"):
        wait_for_input("x", timeout=dt.timedelta(seconds=1), expected_type=int)


def test_a_gate_type_a_signal_cannot_give_is_rejected() -> None:
    from engine import workflow

    def body() -> None:
        wait_for_input("x", timeout=dt.timedelta(seconds=1), expected_type=bytes)

    with pytest.raises(CompileError, match="cannot be given as a signal"):
        workflow(body).compile()


def test_a_timeout_must_be_a_timedelta() -> None:
    from engine import workflow

    def body() -> None:
        approve(wfs.double(x=1), "ok", timeout=30)  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match="timedelta"):
        workflow(body).compile()


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(60)
def test_a_sleep_holds_no_cpu_and_lasts_its_duration() -> None:
    result = run(wfs.sleep_beside_a_task.compile(), {"seconds": 0.5})
    nodes = result.record.nodes
    pause = nodes["n0"].attempts[0]
    assert nodes["n0"].phase is NodePhase.SUCCEEDED and nodes["n0"].task == "sleep"
    assert pause.end is not None and pause.end - pause.start >= 3.0
    # The task asking for every CPU ran while the sleep waited.
    assert result.outputs < pause.end
    assert nodes["n2"].attempts[0].start >= pause.end


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(60)
def test_without_a_terminal_an_input_fails_clearly() -> None:
    source = TerminalSignals(stdin=io.StringIO(), interactive=False)
    with pytest.raises(NodeFailedError) as failed:
        run(wfs.input_then_double.compile(), {}, signals=source)
    assert "wait_for_input 'count' needs a value: run interactively" in failed.value.cause
    assert "flyray signal set" in failed.value.cause
    assert failed.value.kind.value == "USER"


@pytest.fixture
def typed() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """A pipe standing in for a terminal: what is written to the second is typed."""
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    yield reader, writer
    reader.close()
    writer.close()


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(60)
def test_a_value_typed_at_the_terminal_feeds_the_workflow(
        typed: tuple[io.TextIOWrapper, io.TextIOWrapper]) -> None:
    reader, writer = typed
    writer.write("not a number\n21\n")
    writer.flush()
    out = io.StringIO()
    result = run(wfs.input_then_double.compile(), {},
                 signals=TerminalSignals(reader, out, interactive=True))
    assert result.outputs == 42
    assert "wait_for_input 'count' (node 'n0') waits for a value of type int" in out.getvalue()
    assert "not a valid integer" in out.getvalue()


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(60)
def test_an_approval_passes_the_value_and_a_rejection_fails(
        typed: tuple[io.TextIOWrapper, io.TextIOWrapper]) -> None:
    reader, writer = typed
    writer.write("y\n")
    writer.flush()
    source = TerminalSignals(reader, io.StringIO(), interactive=True)
    assert run(wfs.approved_double.compile(), {"x": 3}, signals=source).outputs == 12
    writer.write("n\n")
    writer.flush()
    with pytest.raises(NodeFailedError, match="approve 'ok' was rejected"):
        run(wfs.approved_double.compile(), {"x": 3}, signals=source)


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(60)
def test_a_gate_that_gets_no_value_in_time_times_out(
        typed: tuple[io.TextIOWrapper, io.TextIOWrapper]) -> None:
    reader, _ = typed
    with pytest.raises(NodeFailedError) as failed:
        run(wfs.short_timeout.compile(), {},
            signals=TerminalSignals(reader, io.StringIO(), interactive=True))
    assert "wait_for_input 'name' got no signal within its timeout of 1 s" in str(failed.value)
    assert failed.value.kind.value == "USER"
