"""Sub-workflows: a workflow called inside a workflow is inlined into the caller's DAG."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from engine import conditional, task, workflow
from engine.dag.branching import gates
from engine.dag.run.executor import run
from engine.dag.run.state import NodePhase
from engine.dag.spec import START_NODE, Comparison, Constant, OutputRef
from engine.dag.validate import load_workflow
from engine.errors import BindingError, NodeFailedError, NotYetSupportedError
from tests.fixtures import subworkflow_wfs as wfs


def test_nodes_of_a_sub_workflow_are_inlined_with_prefixed_ids() -> None:
    spec = wfs.outer.compile().spec
    ids = [n.id for n in spec.nodes]
    assert ids[:2] == ["n0-n0", "n0-n1"]  # inner's add and describe
    assert "n1-n0-n0" in ids and "n1-n1-n0" in ids  # middle's two calls of inner
    assert load_workflow(spec.to_json()) == spec


@pytest.mark.usefixtures("ray_cluster")
def test_nested_sub_workflows_compute_with_defaults_and_named_outputs() -> None:
    # inner(a, b=1) -> 5+1=6; middle(6) = inner(6).total + inner(1, 2).total = 16 + 3
    result = run(wfs.outer.compile(), {"a": 5})
    assert tuple(result.outputs) == (19, "x=6")
    phases = {n.phase.value for n in result.record.nodes.values()}
    assert phases == {"SUCCEEDED"}
    assert "n1-n0-n1" in result.record.nodes


@pytest.mark.usefixtures("ray_cluster")
def test_independent_sub_workflows_run_in_parallel() -> None:
    result = run(wfs.parallel_children.compile(), {"x": 1})
    first = result.record.nodes["n0-n0"].attempts[0]
    second = result.record.nodes["n1-n0"].attempts[0]
    assert first.end is not None and second.end is not None
    assert max(first.start, second.start) < min(first.end, second.end)


@pytest.mark.usefixtures("ray_cluster")
def test_a_sub_workflow_returning_its_input_passes_the_value_through() -> None:
    assert wfs.uses_passthrough(x=41) == 42


def test_a_sub_workflow_input_is_type_checked_at_compile_time() -> None:
    @task
    def text() -> str:
        return "a"

    @workflow
    def bad() -> int:
        return wfs.inner(a=text()).total

    with pytest.raises(BindingError) as info:
        bad.compile()
    message = str(info.value)
    assert "sub-workflow 'tests.fixtures.subworkflow_wfs.inner'" in message
    assert "input 'a'" in message and "expected int, got str" in message
    assert "test_subworkflows.py:" in message


def test_unknown_sub_workflow_input_names_what_it_takes() -> None:
    @workflow
    def bad() -> int:
        return wfs.passthrough(y=1)

    with pytest.raises(BindingError, match=r"unknown input 'y'; workflow .* takes \(x: int\)"):
        bad.compile()


# --- sub-workflows holding conditionals -------------------------------------------------


def _phases(result: Any) -> dict[str, NodePhase]:
    return {n: r.phase for n, r in result.record.nodes.items()}


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("n", "expected", "taken", "skipped"),
                         [(20, 11, "n0-n1", "n0-n2"), (3, 10, "n0-n2", "n0-n1")])
def test_the_taken_arm_of_a_sub_workflow_runs_and_its_output_reaches_the_caller(
        n: int, expected: int, taken: str, skipped: str) -> None:
    # sized: n > 10 -> halve(n), else triple(n); uses_sized adds 1.
    result = run(wfs.uses_sized.compile(), {"n": n})
    assert result.outputs == expected
    phases = _phases(result)
    assert phases[taken] is NodePhase.SUCCEEDED and phases[skipped] is NodePhase.SKIPPED
    assert phases["n0-n0"] is NodePhase.SUCCEEDED and phases["n1"] is NodePhase.SUCCEEDED
    assert result.record.nodes[skipped].attempts == []


def test_an_inlined_conditional_names_only_renamed_nodes_and_the_callers_bindings() -> None:
    spec = wfs.sized_from_nodes.compile().spec
    branch = spec.node("n2-n0").branch
    assert branch is not None and branch.name == "size"
    first, other = branch.cases
    # n > limit, with n and limit bound by the caller to the outputs of its nodes n0, n1.
    assert first.condition == Comparison(">", OutputRef("n0", "o0"), OutputRef("n1", "o0"))
    assert first.nodes == ("n2-n1",) and other.nodes == ("n2-n2",)
    assert first.outputs == (("o0", OutputRef("n2-n1", "o0")),)
    assert spec.node("n2-n1").inputs == (("n", OutputRef("n0", "o0")),)
    assert spec.outputs == (("o0", OutputRef("n2-n0", "o0")),)
    assert gates(spec) == {"n2-n1": ("n2-n0", 0), "n2-n2": ("n2-n0", 1)}


@pytest.mark.parametrize("wf", [wfs.uses_sized, wfs.sized_twice, wfs.uses_classify,
                                wfs.sized_in_an_arm, wfs.sized_from_nodes,
                                wfs.sized_from_constants, wfs.uses_positive_or_tripled],
                         ids=lambda wf: wf.name.rsplit(".", 1)[-1])
def test_a_caller_of_a_sub_workflow_with_a_conditional_round_trips(wf: Any) -> None:
    spec = wf.compile().spec
    text = spec.to_json()
    loaded = load_workflow(text)
    assert loaded == spec and loaded.to_json() == text
    ids = [n.id for n in spec.nodes]
    assert len(ids) == len(set(ids))
    assert set(gates(spec)) <= set(ids)


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("n", "expected", "ran"),
                         [(12, "big-even:12", "n1-n3"), (4, "small-even:4", "n1-n4"),
                          (3, "odd:3", "n1-n5")])
def test_nested_conditionals_of_a_sub_workflow_run_only_the_arm_taken(
        n: int, expected: str, ran: str) -> None:
    result = run(wfs.uses_classify.compile(), {"n": n})
    assert result.outputs == expected
    phases = _phases(result)
    arms = {"n1-n3", "n1-n4", "n1-n5"}
    assert {a for a in arms if phases[a] is NodePhase.SUCCEEDED} == {ran}
    assert all(phases[a] is NodePhase.SKIPPED for a in arms - {ran})
    # The inner conditional is itself skipped when the outer arm holding it is not taken.
    assert phases["n1-n2"] is (NodePhase.SKIPPED if ran == "n1-n5" else NodePhase.SUCCEEDED)
    assert phases["n1-n1"] is NodePhase.SUCCEEDED


def test_a_nested_inlined_conditional_is_gated_by_the_renamed_outer_arm() -> None:
    spec = wfs.uses_classify.compile().spec
    assert gates(spec) == {"n1-n2": ("n1-n1", 0), "n1-n5": ("n1-n1", 1),
                           "n1-n3": ("n1-n2", 0), "n1-n4": ("n1-n2", 1)}
    inner = spec.node("n1-n2").branch
    assert inner is not None and inner.cases[0].condition == Comparison(
        ">", OutputRef("n0", "o0"), Constant(10))


@pytest.mark.usefixtures("ray_cluster")
def test_a_sub_workflow_used_twice_keeps_each_conditional_apart() -> None:
    # sized(20) -> 20 > 10 -> halve: 10; sized(20, limit=100) -> triple: 60.
    result = run(wfs.sized_twice.compile(), {"n": 20})
    assert result.outputs == 70
    phases = _phases(result)
    assert phases["n0-n1"] is NodePhase.SUCCEEDED and phases["n0-n2"] is NodePhase.SKIPPED
    assert phases["n1-n1"] is NodePhase.SKIPPED and phases["n1-n2"] is NodePhase.SUCCEEDED
    assert phases["n0-n0"] is NodePhase.SUCCEEDED and phases["n1-n0"] is NodePhase.SUCCEEDED


@pytest.mark.usefixtures("ray_cluster")
def test_a_condition_on_inputs_bound_to_constants_is_decided_without_operands() -> None:
    spec = wfs.sized_from_constants.compile().spec
    branch = spec.node("n0-n0").branch
    assert branch is not None
    assert branch.cases[0].condition == Comparison(">", Constant(12), Constant(10))
    result = run(wfs.sized_from_constants.compile(), {})
    assert result.outputs == 6
    assert _phases(result)["n0-n2"] is NodePhase.SKIPPED


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("limit", "expected"), [(5, 6), (50, 36)])
def test_a_condition_on_a_constant_and_a_caller_input(limit: int, expected: int) -> None:
    spec = wfs.sized_from_constant_and_input.compile().spec
    branch = spec.node("n0-n0").branch
    assert branch is not None
    assert branch.cases[0].condition == Comparison(">", Constant(12),
                                                   OutputRef(START_NODE, "limit"))
    assert wfs.sized_from_constant_and_input(limit=limit) == expected


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("a", "b", "expected", "skipped"),
                         [(9, 3, 6, "n2-n2"), (-2, 5, 9, "n2-n1")])
def test_a_condition_on_inputs_bound_to_outputs_of_caller_nodes(
        a: int, b: int, expected: int, skipped: str) -> None:
    # n = a + b, limit = b: 12 > 3 -> halve(12) = 6; 3 > 5 fails -> triple(3) = 9.
    result = run(wfs.sized_from_nodes.compile(), {"a": a, "b": b})
    assert result.outputs == expected
    assert _phases(result)[skipped] is NodePhase.SKIPPED


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("inline", "expected"), [(True, 10), (False, 20)])
def test_a_sub_workflow_with_a_conditional_inside_an_arm_of_the_caller(
        inline: bool, expected: int) -> None:
    result = run(wfs.sized_in_an_arm.compile(), {"n": 20, "inline": inline})
    assert result.outputs == expected
    phases = _phases(result)
    child = ["n1-n0", "n1-n1", "n1-n2"]
    if inline:
        assert [phases[c] for c in child] == [
            NodePhase.SUCCEEDED, NodePhase.SUCCEEDED, NodePhase.SKIPPED]
        assert phases["n2"] is NodePhase.SKIPPED
    else:
        assert all(phases[c] is NodePhase.SKIPPED for c in child)
        assert phases["n2"] is NodePhase.SUCCEEDED


def test_only_the_top_level_nodes_of_a_sub_workflow_join_the_callers_arm() -> None:
    spec = wfs.sized_in_an_arm.compile().spec
    outer = spec.node("n0").branch
    assert outer is not None and outer.cases[0].nodes == ("n1-n0",)
    assert gates(spec)["n1-n1"] == ("n1-n0", 0)


@pytest.mark.usefixtures("ray_cluster")
def test_a_failing_arm_of_a_sub_workflow_fails_the_caller() -> None:
    assert wfs.uses_bounded(n=40) == 20
    with pytest.raises(NodeFailedError) as info:
        wfs.uses_bounded(n=400)
    assert "n must be < 100" in str(info.value) and "conditional 'bounded'" in str(info.value)
    assert "n0-n0" in str(info.value)


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("n", "expected"), [(15, 15 + 5), (4, 4 + -18)])
def test_an_arm_giving_a_sub_workflow_input_gives_what_the_caller_bound(
        n: int, expected: int) -> None:
    # positive_or_tripled(n) + positive_or_tripled(n - 10): the first binds the caller's
    # input, the second the output of a caller node.
    assert wfs.uses_positive_or_tripled(n=n) == expected


def test_an_arm_giving_a_sub_workflow_input_bound_to_a_constant_is_refused() -> None:
    @workflow
    def bad() -> int:
        return wfs.positive_or_tripled(n=5)

    with pytest.raises(NotYetSupportedError,
                       match=r"conditional 'sign' gives its output 'o0' from a sub-workflow "
                             r"input bound to the constant 5"):
        bad.compile()


class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


@task
def shade_name(s: Shade) -> str:
    return s.value


@workflow
def same_shade(a: Shade, b: Shade) -> str:
    return conditional("same").if_(a == b).then(shade_name(s=a)).else_().then(shade_name(s=b))


def test_a_condition_on_an_input_bound_to_a_non_scalar_constant_is_refused() -> None:
    @workflow
    def bad(b: Shade) -> str:
        return same_shade(a=Shade.DARK, b=b)

    with pytest.raises(NotYetSupportedError,
                       match=r"conditional 'same' compares sub-workflow input 'a'"):
        bad.compile()


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(("n", "expected"), [(4, 2), (-3, -9)])
def test_a_launch_plan_of_a_workflow_with_a_conditional(n: int, expected: int) -> None:
    # strict_sized fixes limit=0: positive n are halved, the others tripled.
    assert wfs.uses_strict_sized(n=n) == expected


def test_overrides_of_a_sub_workflows_nodes_are_kept_when_inlined() -> None:
    @workflow
    def child(a: int) -> int:
        return wfs.add(a=a, b=1).with_overrides(retries=2)

    @workflow
    def parent(a: int) -> int:
        return child(a=a)

    overrides = parent.compile().spec.node("n0-n0").overrides
    assert overrides is not None and overrides.retries == 2
