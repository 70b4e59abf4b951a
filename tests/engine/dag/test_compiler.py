"""Compiling workflows: bindings, containers of promises, loops, and every compile error."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from engine.dag.spec import START_NODE, BindingList, BindingMap, Constant, OutputRef
from engine.errors import BindingError, CompileError, PromiseMisuseError
from tests.fixtures import bad_wfs, basic_wfs

BAD_FILE = Path(bad_wfs.__file__)
ADD = "tests.fixtures.basic_wfs.add"


def bad_line(marker: str) -> int:
    """Line number of the line of bad_wfs.py marked ``# BAD:<marker>``."""
    lines = BAD_FILE.read_text().splitlines()
    found = [i for i, line in enumerate(lines, 1) if line.rstrip().endswith(f"# BAD:{marker}")]
    assert len(found) == 1, f"marker BAD:{marker} must occur once in {BAD_FILE}"
    return found[0]


def compile_error(wf: object, kind: type[Exception]) -> str:
    with pytest.raises(kind) as info:
        wf.compile()  # type: ignore[attr-defined]
    return str(info.value)


# --- correct workflows -------------------------------------------------------------------


def test_loop_over_constants_unrolls_into_a_chain() -> None:
    spec = basic_wfs.chain.compile().spec

    assert [n.id for n in spec.nodes] == ["n0", "n1", "n2"]
    assert [n.task for n in spec.nodes] == [ADD] * 3
    assert dict(spec.nodes[0].inputs) == {"a": OutputRef(START_NODE, "n"), "b": Constant(0)}
    assert dict(spec.nodes[1].inputs) == {"a": OutputRef("n0", "o0"), "b": Constant(1)}
    assert dict(spec.nodes[2].inputs) == {"a": OutputRef("n1", "o0"), "b": Constant(2)}
    assert spec.outputs == (("o0", OutputRef("n2", "o0")),)
    assert spec.interface.input("n").default == 1  # the workflow default, as a JSON literal


def test_list_of_a_thousand_promises_becomes_one_list_binding() -> None:
    spec = basic_wfs.fan_in_1000.compile().spec

    assert len(spec.nodes) == 1001
    last = spec.nodes[-1]
    assert last.id == "n1000"
    assert last.task == "tests.fixtures.basic_wfs.total"
    (name, binding), = last.inputs
    assert name == "xs"
    assert binding == BindingList(tuple(OutputRef(f"n{i}", "o0") for i in range(1000)))
    assert last.upstream() == [f"n{i}" for i in range(1000)]
    # Each noop node got its loop constant.
    assert [dict(n.inputs)["i"] for n in spec.nodes[:1000]] == [Constant(i) for i in range(1000)]


def test_list_binding_mixes_promises_constants_and_inputs_in_order() -> None:
    spec = basic_wfs.mixed_list.compile().spec

    assert dict(spec.nodes[2].inputs)["xs"] == BindingList((
        OutputRef("n0", "o0"), Constant(5), OutputRef("n1", "o0"), OutputRef(START_NODE, "n"),
    ))
    assert spec.nodes[2].upstream() == ["n0", "n1"]


def test_dict_binding_mixes_promises_and_constants_keeping_key_order() -> None:
    spec = basic_wfs.mixed_dict.compile().spec

    assert dict(spec.nodes[1].inputs)["d"] == BindingMap((
        ("zz", OutputRef("n0", "o0")), ("aa", Constant(3)), ("mm", OutputRef(START_NODE, "n")),
    ))


def test_nodes_record_their_source_line() -> None:
    spec = basic_wfs.chain.compile().spec
    loop_line = next(
        i for i, line in enumerate(Path(basic_wfs.__file__).read_text().splitlines(), 1)
        if "x = add(a=x, b=i)" in line
    )

    assert {n.source for n in spec.nodes} == {f"basic_wfs.py:{loop_line}"}


# --- binding errors ----------------------------------------------------------------------


def test_str_output_into_int_input() -> None:
    msg = compile_error(bad_wfs.str_into_int, BindingError)

    assert "workflow 'tests.fixtures.bad_wfs.str_into_int'" in msg
    assert "node 'n1'" in msg
    assert f"task '{ADD}'" in msg
    assert "input 'a'" in msg
    assert "expected int, got str" in msg
    assert "output 'o0' of task 'tests.fixtures.basic_wfs.to_str'" in msg
    assert f"bad_wfs.py:{bad_line('str_into_int')}" in msg


def test_unknown_input() -> None:
    msg = compile_error(bad_wfs.unknown_input, BindingError)

    assert "workflow 'tests.fixtures.bad_wfs.unknown_input'" in msg
    assert "node 'n0'" in msg
    assert "unknown input 'c'" in msg
    assert "(a: int, b: int)" in msg  # the task's real inputs, to fix the call
    assert f"bad_wfs.py:{bad_line('unknown_input')}" in msg


def test_missing_input() -> None:
    msg = compile_error(bad_wfs.missing_input, BindingError)

    assert "workflow 'tests.fixtures.bad_wfs.missing_input'" in msg
    assert f"task '{ADD}'" in msg
    assert "missing input(s) 'b'" in msg
    assert f"bad_wfs.py:{bad_line('missing_input')}" in msg


def test_wrong_constant_type() -> None:
    msg = compile_error(bad_wfs.wrong_constant, BindingError)

    assert "workflow 'tests.fixtures.bad_wfs.wrong_constant'" in msg
    assert "node 'n0'" in msg
    assert "input 'a'" in msg
    assert "expected int, got str 'three'" in msg
    assert f"bad_wfs.py:{bad_line('wrong_constant')}" in msg


def test_wrong_promise_type_inside_a_list_names_the_item() -> None:
    msg = compile_error(bad_wfs.str_in_list, BindingError)

    assert "node 'n2'" in msg
    assert "input 'xs'[1]" in msg
    assert "expected int, got str" in msg
    assert f"bad_wfs.py:{bad_line('str_in_list')}" in msg


def test_wrong_constant_inside_a_dict_names_the_key() -> None:
    msg = compile_error(bad_wfs.wrong_constant_in_dict, BindingError)

    assert "input 'd'['b']" in msg
    assert "expected int, got str 'x'" in msg
    assert f"bad_wfs.py:{bad_line('wrong_constant_in_dict')}" in msg


def test_list_of_promises_into_a_scalar_input() -> None:
    msg = compile_error(bad_wfs.list_into_int, BindingError)

    assert "input 'a'" in msg
    assert "expected int, got a list holding promises" in msg
    assert f"bad_wfs.py:{bad_line('list_into_int')}" in msg


def test_wrong_workflow_output_type() -> None:
    msg = compile_error(bad_wfs.wrong_workflow_output, BindingError)

    assert "workflow 'tests.fixtures.bad_wfs.wrong_workflow_output'" in msg
    assert "output 'o0'" in msg
    assert "expected str, got int" in msg


def test_binding_errors_are_compile_errors_and_type_errors() -> None:
    with pytest.raises(BindingError) as info:
        bad_wfs.wrong_constant.compile()

    assert isinstance(info.value, CompileError)
    assert isinstance(info.value, TypeError)


# --- promise misuse ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wf", "marker", "what", "origin"),
    [
        (bad_wfs.if_promise, "if_promise", "as a condition",
         "output 'o0' of task 'tests.fixtures.basic_wfs.noop'"),
        (bad_wfs.iterate_promise, "iterate_promise", "iterating over a promise",
         "output 'o0' of task 'tests.fixtures.basic_wfs.noop'"),
        (bad_wfs.arithmetic_on_promise, "arithmetic_on_promise", "computing with a promise ('+')",
         "output 'o0' of task 'tests.fixtures.basic_wfs.noop'"),
        (bad_wfs.arithmetic_on_input, "arithmetic_on_input", "computing with a promise ('*')",
         "input 'n'"),
    ],
    ids=["if", "for", "plus", "times-input"],
)
def test_promise_misuse_fails_at_the_users_line(
    wf: object, marker: str, what: str, origin: str
) -> None:
    with pytest.raises(PromiseMisuseError) as info:
        wf.compile()  # type: ignore[attr-defined]
    msg = str(info.value)

    assert what in msg
    assert f"the {origin} is only known at run time" in msg
    assert f"@workflow '{wf.name}'" in msg  # type: ignore[attr-defined]
    assert "move this logic into a task" in msg
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(
        Path(f.filename) == BAD_FILE and f.lineno == bad_line(marker) for f in frames
    ), "the error must be raised from the user's offending line"
    assert isinstance(info.value, CompileError)


def test_a_failed_compile_leaves_no_trace_behind() -> None:
    # After a compile error, tasks called outside a workflow run normally again.
    with pytest.raises(PromiseMisuseError):
        bad_wfs.if_promise.compile()

    assert basic_wfs.add(a=2, b=3) == 5
