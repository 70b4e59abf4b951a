"""What the executor offers remote executions' drivers: a stop request that cancels
running work, nodes taken as RECOVERED from an earlier execution, and output values
handed to the hooks that ask for them before a node is SUCCEEDED."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engine.dag.recovery import recoverable
from engine.dag.run.executor import run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionPhase, ExecutionRecord, NodePhase, NodeRecord
from engine.errors import ExecutionAbortedError
from tests.fixtures import conditional_wfs, gate_wfs, remote_wfs
from tests.fixtures.remote_wfs import runs


class Keeper(ExecutionHooks):
    record: ExecutionRecord | None = None

    def on_execution_end(self, record: ExecutionRecord) -> None:
        self.record = record


def test_a_stop_request_cancels_running_work_and_ends_aborted(ray_cluster: None,
                                                              tmp_path: Path) -> None:
    keeper = Keeper()

    def stop() -> str | None:
        return "enough" if runs(tmp_path, "started") else None

    with pytest.raises(ExecutionAbortedError, match="enough"):
        run(remote_wfs.sleeper.compile(), {"seconds": 3.0, "marker_dir": str(tmp_path)},
            hooks=[keeper], stop=stop)
    record = keeper.record
    assert record is not None
    assert (record.phase, record.error, record.error_kind) == (
        ExecutionPhase.ABORTED, "enough", None)
    assert {n.phase for n in record.nodes.values()} == {NodePhase.ABORTED}
    started = next(tmp_path.glob("started-*")).stat().st_mtime
    time.sleep(max(0.0, started + 4.0 - time.time()))
    assert runs(tmp_path, "woke") == 0  # the sleeping task was killed


def test_recovered_nodes_do_not_run_and_feed_the_nodes_after_them(ray_cluster: None,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "flaky-before").touch()  # so fails_once succeeds
    offered = {"n0": {"o0": 10}, "n1": {"o0": 20}, "n3": {"o0": 99}}
    result = run(remote_wfs.recoverable.compile(), {"marker_dir": str(tmp_path), "x": 1},
                 recovered=offered)
    assert result.outputs == 31  # b = 10 + 20, c = b + 1: n3 ran, its upstream did
    phases = {k: n.phase for k, n in result.record.nodes.items()}
    assert phases == {"n0": NodePhase.RECOVERED, "n1": NodePhase.RECOVERED,
                      "n2": NodePhase.SUCCEEDED, "n3": NodePhase.SUCCEEDED}
    assert result.record.nodes["n0"].attempts == []
    assert (runs(tmp_path, "a"), runs(tmp_path, "d"), runs(tmp_path, "c")) == (0, 0, 1)


def test_which_offered_nodes_are_taken() -> None:
    spec = remote_wfs.recoverable.compile().spec
    inputs = {"marker_dir": "/tmp", "x": 1}
    assert recoverable(spec, {"n2": {"o0": 1}, "n0": {"o0": 1}}, inputs) == {"n0": {"o0": 1}}
    assert recoverable(spec, {"n0": {}}, inputs) == {}  # its output is missing
    # nested: n0 = is_even(n); n1 = parity (n0) ? n2 : n5; n2 = size (n > 10) ? n3 : n4.
    nested = conditional_wfs.nested.compile().spec
    big, even = {"n": 12, "directory": "/tmp"}, {"o0": True}
    big_even = {"o0": "big-even"}
    # n3 is in an arm of conditionals whose operands (n0, the input n) must be taken, and
    # must decide for the same arms, for it to be taken.
    assert recoverable(nested, {"n3": big_even}, big) == {}
    assert recoverable(nested, {"n0": even, "n3": big_even}, {**big, "n": 5}) == {"n0": even}
    assert recoverable(nested, {"n0": {"o0": False}, "n3": big_even}, big) == {
        "n0": {"o0": False}}
    # Both conditionals decide for arms whose nodes are all taken: they are taken too, with
    # their arm's outputs (what is offered for a branch node is never used).
    assert recoverable(nested, {"n0": even, "n1": {"o0": "x"}, "n3": big_even}, big) == {
        "n0": even, "n3": big_even, "n2": big_even, "n1": big_even}


def test_gates_that_passed_are_taken_with_their_recorded_outputs() -> None:
    # n0 = wait_for_input; n1 = a(n0); n2 = approve(n1); n3 = b(n2); n4 = sleep; n5 = nap
    # after n3 and n4; n6 = add_one(n5).
    spec = gate_wfs.gated_resumable.compile().spec
    inputs = {"marker_dir": "/tmp", "seconds": 1.0}
    passed = {"n0": {"o0": 1}, "n1": {"o0": 2}, "n2": {"o0": 2}, "n3": {"o0": 3}, "n4": {}}
    assert recoverable(spec, passed, inputs) == passed
    # A gate not offered (it had not passed): it waits again, and what follows it runs.
    assert recoverable(spec, {k: v for k, v in passed.items() if k != "n0"}, inputs) == {
        "n4": {}}
    # An approve without its approved value is not taken, nor what follows it.
    assert recoverable(spec, {**passed, "n2": {}}, inputs) == {
        k: v for k, v in passed.items() if k in ("n0", "n1", "n4")}


def test_nodes_after_a_conditional_are_taken_when_it_is() -> None:
    # branchy: n0 = a; n1 = sign (n0 > 0) ? n2 (pos) : n3 (neg); n4 = b(n1); n5 = flaky.
    spec = remote_wfs.branchy.compile().spec
    inputs = {"marker_dir": "/tmp", "x": 1}
    offered = {"n0": {"o0": 2}, "n2": {"o0": 3}, "n4": {"o0": 4}}
    assert recoverable(spec, offered, inputs) == {**offered, "n1": {"o0": 3}}
    # The arm it decides for now ran again before: neither it nor what follows is taken.
    assert recoverable(spec, {**offered, "n0": {"o0": -2}}, inputs) == {"n0": {"o0": -2}}
    # Its operand runs again: it decides at run time, and what follows it runs again.
    assert recoverable(spec, {"n2": {"o0": 3}, "n4": {"o0": 4}}, inputs) == {}


def test_nodes_after_a_conditional_are_recovered_with_it(ray_cluster: None,
                                                        tmp_path: Path) -> None:
    (tmp_path / "flaky-before").touch()  # so fails_once succeeds
    # What succeeded before: a (n0) = 2, the 'pos' arm (n2) = 3, b after the branch (n4) = 4.
    offered = {"n0": {"o0": 2}, "n2": {"o0": 3}, "n4": {"o0": 4}}
    result = run(remote_wfs.branchy.compile(), {"marker_dir": str(tmp_path), "x": 1},
                 recovered=offered)
    assert result.outputs == 5  # fails_once: b + x
    phases = {k: n.phase for k, n in result.record.nodes.items()}
    assert phases == {"n0": NodePhase.RECOVERED, "n1": NodePhase.RECOVERED,
                      "n2": NodePhase.RECOVERED, "n3": NodePhase.SKIPPED,
                      "n4": NodePhase.RECOVERED, "n5": NodePhase.SUCCEEDED}
    assert [runs(tmp_path, label) for label in ("a", "pos", "neg", "b")] == [0, 0, 0, 0]


def test_outputs_reach_the_hooks_that_ask_before_the_node_succeeds(ray_cluster: None) -> None:
    seen: list[tuple[Any, ...]] = []

    class Wants(ExecutionHooks):
        wants_outputs = True

        def on_node_outputs(self, record: ExecutionRecord, node: NodeRecord,
                            outputs: dict[str, Any]) -> None:
            seen.append(("outputs", node.node_id, outputs, node.phase))

        def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
            seen.append(("phase", node.node_id, node.phase))

    class Plain(ExecutionHooks):
        def on_node_outputs(self, record: ExecutionRecord, node: NodeRecord,
                            outputs: dict[str, Any]) -> None:
            raise AssertionError("called without asking")

    result = run(remote_wfs.square_plus_one.compile(), {"x": 4}, hooks=[Plain(), Wants()])
    assert result.outputs == 17
    for node_id, value in (("n0", 16), ("n1", 17)):
        given = seen.index(("outputs", node_id, {"o0": value}, NodePhase.RUNNING))
        assert given < seen.index(("phase", node_id, NodePhase.SUCCEEDED))
