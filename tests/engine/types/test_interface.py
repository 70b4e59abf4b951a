"""Reading interfaces from signatures: return annotations written as flytekit allows."""

from __future__ import annotations

import pytest

from engine.errors import InterfaceError
from engine.types.interface import extract_interface
from tests.fixtures import tuple_literal_wfs as wfs


def test_a_tuple_of_types_declares_one_output_per_type() -> None:
    iface = wfs.halves_and_doubles.python_interface
    assert iface.outputs == {"o0": float, "o1": float}
    outputs = wfs.halves_and_doubles.compile().spec.interface.outputs
    assert [str(v.type) for v in outputs] == ["float", "float"]


@pytest.mark.usefixtures("ray_cluster")
def test_a_workflow_with_a_tuple_of_types_returns_each_output() -> None:
    assert tuple(wfs.halves_and_doubles(x=3.0)) == (1.5, 6.0)


def test_a_tuple_of_one_type_is_refused_with_the_fix() -> None:
    def one() -> (int,):  # type: ignore[syntax]
        return (1,)

    with pytest.raises(InterfaceError, match=r"annotate one output as '-> int'"):
        extract_interface(one, "task 'one'")
