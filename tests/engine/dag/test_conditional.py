"""conditional(): only the taken arm runs; the others are SKIPPED."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import conditional, task, workflow
from engine.dag.run.executor import run
from engine.dag.run.state import NodePhase
from engine.dag.validate import load_workflow
from engine.errors import BindingError, NodeFailedError, PromiseMisuseError
from tests.fixtures import conditional_wfs as wfs


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("value", "expected"), [(0.5, 2.0), (3.0, 10.0)])
def test_the_first_arm_that_holds_runs(value: float, expected: float) -> None:
    result = run(wfs.fractions.compile(), {"my_input": value})
    assert result.outputs == expected
    phases = {n: r.phase for n, r in result.record.nodes.items()}
    taken, other = ("n1", "n2") if value < 1 else ("n2", "n1")
    assert phases[taken] is NodePhase.SUCCEEDED and phases[other] is NodePhase.SKIPPED
    assert phases["n0"] is NodePhase.SUCCEEDED  # the branch node itself


@pytest.mark.usefixtures("ray_cluster")
def test_else_fail_fails_the_workflow_with_its_message() -> None:
    with pytest.raises(NodeFailedError) as info:
        wfs.fractions(my_input=42.0)
    assert "The input must be between 0 and 10" in str(info.value)
    assert "conditional 'fractions'" in str(info.value)


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("n", "ran"), [(12, "big-even"), (4, "small-even"), (3, "odd")])
def test_nested_conditionals_run_only_the_arm_taken(n: int, ran: str, tmp_path: Path) -> None:
    assert wfs.nested(n=n, directory=str(tmp_path)) == ran
    assert sorted(p.name for p in tmp_path.iterdir()) == [ran]


@pytest.mark.usefixtures("ray_cluster")
def test_a_conditional_without_else_may_take_no_arm(tmp_path: Path) -> None:
    result = run(wfs.without_else.compile(), {"n": 1, "directory": str(tmp_path)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["always"]
    assert result.record.nodes["n1"].phase is NodePhase.SKIPPED


def test_the_branch_is_part_of_the_spec() -> None:
    spec = wfs.nested.compile().spec
    assert load_workflow(spec.to_json()) == spec
    parity = spec.node("n1").branch
    assert parity is not None and parity.name == "parity"
    assert [c.condition is None for c in parity.cases] == [False, True]


def test_using_the_output_of_a_conditional_without_else_fails_at_compile_time() -> None:
    @workflow
    def bad(x: float) -> float:
        maybe = conditional("maybe").if_(x > 1.0).then(wfs.double(n=x))
        return wfs.plus_one(x=maybe)

    with pytest.raises(BindingError, match=r"without an else_\(\) arm"):
        bad.compile()


def test_arms_must_give_the_same_outputs() -> None:
    @task
    def text() -> str:
        return "a"

    @workflow
    def bad(x: float) -> float:
        return conditional("mixed").if_(x > 1.0).then(wfs.double(n=x)).else_().then(text())

    with pytest.raises(BindingError, match=r"arm 2 gives \(str\) but the first arm gives"):
        bad.compile()


def test_a_comparison_used_as_a_python_condition_fails_with_guidance() -> None:
    @workflow
    def bad(x: float) -> float:
        if x > 1.0:
            return wfs.double(n=x)
        return wfs.square(n=x)

    with pytest.raises(PromiseMisuseError, match=r"branch\s+with conditional"):
        bad.compile()
