"""The live table of ``flyray run``: a retried node's earlier errors under it, and what the
run waits for before its execution starts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from engine.cli.progress import WAITING_FOR_RAY, LiveProgress, headline
from engine.dag.run.executor import run
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodePhase, NodeRecord
from engine.errors import ErrorKind
from tests.fixtures.runtime_wfs import flaky


def capture(terminal: bool = False) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=terminal, color_system=None), out


def record_with_retries() -> ExecutionRecord:
    lost = AttemptRecord(1, 0.0, 1.0, NodePhase.FAILED, ErrorKind.SYSTEM,
                         "worker died: the node was lost\nmore detail")
    raised = AttemptRecord(2, 1.0, 2.0, NodePhase.FAILED, ErrorKind.USER,
                           "ValueError: bad [input]\nTraceback (most recent call last): ...")
    running = AttemptRecord(3, 2.0)
    nodes = {"n0": NodeRecord("n0", "pkg.train", NodePhase.RUNNING, [lost, raised, running]),
             "n1": NodeRecord("n1", "pkg.report")}
    return ExecutionRecord("exec1", "pkg.wf", nodes)


def test_a_retried_node_shows_each_earlier_attempts_first_error_line_and_kind() -> None:
    console, out = capture()
    progress = LiveProgress(console)
    record = record_with_retries()
    progress.on_execution_start(record)
    progress.on_execution_end(record)
    lines = out.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if "pkg.train" in line)
    assert "attempt 1" in lines[at + 1] and "worker died: the node was lost" in lines[at + 1]
    assert "FAILED SYSTEM" in lines[at + 1]
    # Square brackets in an error are its text, not markup.
    assert "ValueError: bad [input]" in lines[at + 2] and "FAILED USER" in lines[at + 2]
    assert "pkg.report" in lines[at + 3]  # the running attempt adds no row
    assert "more detail" not in out.getvalue() and "Traceback" not in out.getvalue()


def test_the_headline_of_a_traceback_is_its_exception() -> None:
    traceback = ('Traceback (most recent call last):\n  File "t.py", line 3, in f\n'
                 '    raise ValueError("no")\nValueError: no')
    assert headline(traceback) == "ValueError: no"
    assert headline("worker died\ndetail") == "worker died"
    assert headline("") == "(no error message)"


def test_above_the_row_limit_the_counts_say_how_many_nodes_were_retried() -> None:
    console, out = capture()
    record = record_with_retries()
    record.nodes.update({f"m{i}": NodeRecord(f"m{i}", "pkg.map") for i in range(40)})
    progress = LiveProgress(console)
    progress.on_execution_start(record)
    progress.on_execution_end(record)
    retried = [line for line in out.getvalue().splitlines() if "retried" in line]
    assert len(retried) == 1 and retried[0].split("│")[-2].strip() == "1"


def test_entered_before_the_run_it_says_it_waits_for_ray_and_closes_on_error() -> None:
    console, out = capture()
    with pytest.raises(RuntimeError), LiveProgress(console) as progress:
        assert progress.live is not None  # shown before any execution starts
        raise RuntimeError("Ray did not start")
    assert progress.live is None
    assert WAITING_FOR_RAY in out.getvalue()


@pytest.mark.timeout(60)
def test_a_real_run_shows_the_first_attempts_error_under_the_retried_node(
        ray_cluster: None, tmp_path: Path) -> None:
    console, out = capture(terminal=True)
    with LiveProgress(console) as progress:
        result = run(flaky.compile(), {"directory": str(tmp_path)}, [progress])
    assert result.outputs == 2  # fail_once's second attempt (attempt number 1), plus one
    shown = out.getvalue()
    assert shown.index(WAITING_FOR_RAY) < shown.index("fail_once")
    final = shown[shown.rindex(f"{flaky.name}  "):]  # the last frame, from its title
    assert f"{result.record.name}  SUCCEEDED" in final and "attempt 1" in final
    assert "ValueError: first attempt fails on purpose" in final and "FAILED USER" in final
