"""Parts of promises (flytekit's attribute paths): ``items[0]``, ``d["key"]``, ``s.field``.

Typed at compile time, resolved where the value exists: in the worker for node inputs, in
the driver for conditions and workflow outputs.
"""

from __future__ import annotations

import pytest

from engine.dag.spec import OutputRef, WorkflowSpec, binding_from_dict, binding_to_dict
from engine.dag.validate import validate_workflow
from engine.errors import BindingError, NodeFailedError, PromiseMisuseError, SpecError
from tests.fixtures import promise_path_wfs as wfs


def test_a_part_is_a_path_on_the_binding_and_round_trips() -> None:
    spec = wfs.key_then_index.compile().spec
    (name, binding), = spec.nodes[1].inputs
    assert (name, binding) == ("x", OutputRef("n0", "o0", ("b", 2)))
    assert binding_from_dict(binding_to_dict(binding)) == binding
    # A reference without a path is written as before: existing versions do not change.
    assert binding_to_dict(OutputRef("n0", "o0")) == {"ref": {"node_id": "n0", "var": "o0"}}


@pytest.mark.usefixtures("ray_cluster")
def test_list_items_dict_values_and_dataclass_fields_resolve_at_run_time() -> None:
    assert tuple(wfs.first_and_last(n=3)) == (20, 12)
    assert wfs.key_then_index() == 10
    assert tuple(wfs.fields()) == (3.5, "Y")
    assert wfs.index_an_input(xs=[4, 5]) == 10


@pytest.mark.usefixtures("ray_cluster")
def test_parts_in_conditions_and_through_sub_workflows() -> None:
    assert wfs.branch_on_a_part(n=2) == 20
    assert wfs.parent() == 20
    assert wfs.parent_of_part() == 2
    assert wfs.parent_of_constant() == 14  # the child's xs[0] of a constant: 7
    assert wfs.parent_of_list() == 4  # of a list of promises: the first promise


@pytest.mark.usefixtures("ray_cluster")
def test_a_missing_item_fails_the_node_as_a_user_error() -> None:
    with pytest.raises(NodeFailedError) as info:
        wfs.past_the_end(n=2)
    assert info.value.kind.value == "USER"
    assert "input 'x' reads [5], but the list of 2 items has no [5]" in str(info.value)


@pytest.mark.parametrize(("wf", "error", "words"), [
    (wfs.unknown_field, BindingError, "has no field 'median'; its fields are mean, names"),
    (wfs.str_index_into_list, PromiseMisuseError, "a list[int] is indexed by int, got str"),
    (wfs.index_an_int, PromiseMisuseError, "indexing a promise with [0]"),
    (wfs.part_of_the_wrong_type, BindingError,
     "expected int, got str (part [0] of the part .names of the output 'o0'"),
    (wfs.arm_gives_a_part, BindingError, "index the conditional's result instead"),
])
def test_a_part_that_cannot_exist_is_a_compile_error(wf: object, error: type,
                                                     words: str) -> None:
    with pytest.raises(error) as info:
        wf.compile()  # type: ignore[attr-defined]
    assert words in str(info.value)


def test_a_loaded_spec_with_a_path_its_type_lacks_is_refused() -> None:
    data = wfs.key_then_index.compile().spec.to_dict()
    data["nodes"][1]["inputs"]["x"]["ref"]["path"] = ["b", "c"]
    with pytest.raises(SpecError, match=r"\.b\.c of output 'o0' of node 'n0': .* no part"):
        validate_workflow(WorkflowSpec.from_dict(data))
