"""Python types guessed from literal types (for entities fetched from the admin API) have
the literal type they were guessed from, and read the JSON the original types write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import typing

import pandas as pd
import pytest

from engine.dag.spec import Interface, Variable
from engine.types import FlyteDirectory, FlyteFile
from engine.types.guess import guess_python_interface, guess_python_type
from engine.types.literal import Kind, LiteralType
from engine.types.type_engine import TypeEngine


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: int
    tags: list[Color]
    label: typing.Optional[str] = None


@pytest.mark.parametrize("python_type", [
    int, float, str, bool, bytes, dt.datetime, dt.timedelta, list[dict[str, float]],
    typing.Optional[int], typing.Union[int, str], Color, Point, pd.DataFrame, FlyteFile,
    FlyteDirectory,
], ids=str)
def test_a_guess_has_the_literal_type_it_was_guessed_from(python_type: typing.Any) -> None:
    literal_type = TypeEngine.to_literal_type(python_type)
    assert TypeEngine.to_literal_type(guess_python_type(literal_type)) == literal_type


def test_guessed_records_and_enums_read_the_originals_json() -> None:
    value = Point(3, [Color.GREEN, Color.RED], "p")
    data = TypeEngine.to_json(value, Point)
    guessed = guess_python_type(TypeEngine.to_literal_type(Point))
    read = TypeEngine.from_json(data, guessed)
    assert (read.x, [c.value for c in read.tags], read.label) == (3, ["green", "red"], "p")
    assert TypeEngine.to_json(read, guessed) == data
    # One literal type, one guessed class.
    assert guess_python_type(TypeEngine.to_literal_type(Point)) is guessed


def test_a_pickled_value_reads_whatever_its_type() -> None:
    pickled = LiteralType(Kind.PICKLE, name="some.Type")
    data = TypeEngine.fallback.to_json({1, 2}, object)
    assert TypeEngine.from_json(data, guess_python_type(pickled)) == {1, 2}


def test_an_interface_keeps_names_defaults_and_output_order() -> None:
    integer = TypeEngine.to_literal_type(int)
    frame = TypeEngine.to_literal_type(pd.DataFrame)
    iface = guess_python_interface(Interface(
        (Variable("n", integer, True, 3), Variable("df", frame)),
        (Variable("o0", frame), Variable("o1", integer))))
    assert iface.inputs == {"n": int, "df": pd.DataFrame}
    assert iface.defaults == {"n": 3}
    assert iface.outputs == {"o0": pd.DataFrame, "o1": int}
    assert iface.pack_outputs(["a", 1]).o1 == 1
