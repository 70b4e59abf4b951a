"""The type engine: literal types, value checks and JSON round trips for every supported type."""

from __future__ import annotations

import datetime as dt
import enum
import json
import typing
from typing import Any

import pandas as pd
import pytest

from engine import task
from engine.core.type_engine import TypeEngine
from engine.dag.types import NONE, Kind, LiteralType, Simple, is_assignable, simple
from engine.errors import InterfaceError
from tests.fixtures.basic_wfs import Color, Point, Shape

INT, FLOAT, STR = simple(Simple.INTEGER), simple(Simple.FLOAT), simple(Simple.STRING)
POINT = LiteralType(Kind.RECORD, fields=(("x", FLOAT), ("y", FLOAT)), name="Point")
COLOR = LiteralType(Kind.ENUM, values=("red", "green"), name="Color")

SHAPE = Shape(
    name="tri",
    color=Color.GREEN,
    points=[Point(0.0, 0.0), Point(1.5, -2.0)],
    tags={"corners": 3},
    parent=Point(9.0, 9.0),
)
WHEN = dt.datetime(2024, 2, 29, 13, 45, 6, 789, tzinfo=dt.timezone.utc)

# (python type, literal type, a valid value, an invalid value, str of the literal type)
CASES: list[tuple[Any, LiteralType, Any, Any, str]] = [
    (int, INT, -42, "42", "int"),
    (float, FLOAT, 2.5, "2.5", "float"),
    (str, STR, "héllo", b"bytes", "str"),
    (bool, simple(Simple.BOOLEAN), True, 1, "bool"),
    (bytes, simple(Simple.BINARY), b"\x00\xffdata", "data", "bytes"),
    (dt.datetime, simple(Simple.DATETIME), WHEN, "2024-02-29", "datetime"),
    (dt.timedelta, simple(Simple.DURATION), dt.timedelta(days=2, microseconds=7), 3.0,
     "timedelta"),
    (Color, COLOR, Color.RED, "red", "Color(red, green)"),
    (list[int], LiteralType(Kind.LIST, item=INT), [1, 2, 3], [1, "2"], "list[int]"),
    (dict[str, float], LiteralType(Kind.MAP, item=FLOAT), {"a": 1.0, "b": -0.5},
     {"a": "x"}, "dict[str, float]"),
    (typing.Optional[int], LiteralType(Kind.UNION, variants=(INT, NONE)), 7, "7",
     "Optional[int]"),
    (list[list[str]], LiteralType(Kind.LIST, item=LiteralType(Kind.LIST, item=STR)),
     [["a"], [], ["b", "c"]], [["a"], "b"], "list[list[str]]"),
    (dict[str, list[Point]],
     LiteralType(Kind.MAP, item=LiteralType(Kind.LIST, item=POINT)),
     {"line": [Point(0.0, 1.0), Point(2.0, 3.0)]}, {"line": [(0.0, 1.0)]},
     "dict[str, list[dataclass Point]]"),
    (Shape,
     LiteralType(Kind.RECORD, name="Shape", fields=(
         ("name", STR),
         ("color", COLOR),
         ("points", LiteralType(Kind.LIST, item=POINT)),
         ("tags", LiteralType(Kind.MAP, item=INT)),
         ("parent", LiteralType(Kind.UNION, variants=(POINT, NONE))),
     )),
     SHAPE, Shape("x", Color.RED, [Point(0.0, "0")]),  # type: ignore[arg-type]
     "dataclass Shape"),
]
IDS = [c[4] for c in CASES]


@pytest.mark.parametrize(("py", "lt", "good", "bad", "text"), CASES, ids=IDS)
def test_literal_type(py: Any, lt: LiteralType, good: Any, bad: Any, text: str) -> None:
    assert TypeEngine.to_literal_type(py) == lt
    assert str(lt) == text


@pytest.mark.parametrize(("py", "lt", "good", "bad", "text"), CASES, ids=IDS)
def test_literal_type_json_round_trip(
    py: Any, lt: LiteralType, good: Any, bad: Any, text: str
) -> None:
    data = json.loads(json.dumps(lt.to_dict()))

    assert LiteralType.from_dict(data) == lt


@pytest.mark.parametrize(("py", "lt", "good", "bad", "text"), CASES, ids=IDS)
def test_check_accepts_a_valid_value(
    py: Any, lt: LiteralType, good: Any, bad: Any, text: str
) -> None:
    assert TypeEngine.check(good, py) is None


@pytest.mark.parametrize(("py", "lt", "good", "bad", "text"), CASES, ids=IDS)
def test_check_explains_an_invalid_value(
    py: Any, lt: LiteralType, good: Any, bad: Any, text: str
) -> None:
    reason = TypeEngine.check(bad, py)

    assert isinstance(reason, str)
    assert "expected" in reason


@pytest.mark.parametrize(("py", "lt", "good", "bad", "text"), CASES, ids=IDS)
def test_value_json_round_trip(py: Any, lt: LiteralType, good: Any, bad: Any, text: str) -> None:
    text_form = json.dumps(TypeEngine.to_json(good, py))  # must be plain JSON

    back = TypeEngine.from_json(json.loads(text_form), py)

    assert back == good
    assert type(back) is type(good)


def test_check_messages_say_what_was_expected_and_where() -> None:
    assert TypeEngine.check("42", int) == "expected int, got str '42'"
    assert TypeEngine.check([1, "2"], list[int]) == "[1]: expected int, got str '2'"
    assert TypeEngine.check({"a": "x"}, dict[str, float]) == "['a']: expected float, got str 'x'"
    bad_shape = Shape("x", Color.RED, [Point(0.0, "0")])  # type: ignore[arg-type]
    assert TypeEngine.check(bad_shape, Shape) == ".points: [0]: .y: expected float, got str '0'"


def test_bool_is_not_an_int_and_int_is_a_float() -> None:
    assert TypeEngine.check(True, int) is not None
    assert TypeEngine.check(3, float) is None
    assert TypeEngine.from_json(3, float) == 3.0
    assert isinstance(TypeEngine.from_json(3, float), float)
    with pytest.raises(TypeError):
        TypeEngine.from_json(True, int)


def test_optional_accepts_none_both_ways() -> None:
    assert TypeEngine.check(None, typing.Optional[Point]) is None
    assert TypeEngine.to_json(None, typing.Optional[Point]) is None
    assert TypeEngine.from_json(None, typing.Optional[Point]) is None
    assert TypeEngine.from_json({"x": 1.0, "y": 2.0}, typing.Optional[Point]) == Point(1.0, 2.0)
    optional_int = TypeEngine.to_literal_type(typing.Optional[int])
    assert TypeEngine.to_literal_type(int | None) == optional_int


def test_none_is_not_an_int() -> None:
    assert TypeEngine.check(None, int) is not None


@pytest.mark.parametrize(
    ("py", "value"),
    [
        (typing.Union[str, dt.datetime], WHEN),
        (typing.Union[str, bytes], b"raw"),
        (typing.Union[str, Color], Color.GREEN),
    ],
    ids=["str|datetime", "str|bytes", "str|Color"],
)
def test_union_values_keep_their_variant_through_json(py: Any, value: Any) -> None:
    back = TypeEngine.from_json(json.loads(json.dumps(TypeEngine.to_json(value, py))), py)

    assert back == value
    assert type(back) is type(value)


def test_enum_from_json_lists_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="'blue' is not a Color; allowed: 'red', 'green'"):
        TypeEngine.from_json("blue", Color)


def test_dataclass_from_json_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['z'\] for Point"):
        TypeEngine.from_json({"x": 1.0, "y": 2.0, "z": 3.0}, Point)


def test_bad_base64_is_rejected() -> None:
    with pytest.raises(ValueError):
        TypeEngine.from_json("not base64!", bytes)


# --- pandas.DataFrame ----------------------------------------------------------------------


def test_dataframe_literal_type_and_check() -> None:
    assert TypeEngine.to_literal_type(pd.DataFrame) == LiteralType(Kind.DATAFRAME)
    assert str(TypeEngine.to_literal_type(pd.DataFrame)) == "DataFrame"
    assert TypeEngine.check(pd.DataFrame({"a": [1, 2]}), pd.DataFrame) is None
    assert TypeEngine.check({"a": [1, 2]}, pd.DataFrame) == "expected pandas.DataFrame, got dict"


def test_dataframe_has_no_json_form() -> None:
    with pytest.raises(TypeError, match="no JSON form"):
        TypeEngine.to_json(pd.DataFrame({"a": [1]}), pd.DataFrame)
    with pytest.raises(TypeError):
        TypeEngine.from_json({"a": [1]}, pd.DataFrame)


# --- assignability ---------------------------------------------------------------------------


def test_assignability_is_exact_except_unions_and_records() -> None:
    assert is_assignable(INT, INT)
    assert not is_assignable(INT, FLOAT)
    assert not is_assignable(STR, INT)
    assert is_assignable(INT, LiteralType(Kind.UNION, variants=(INT, NONE)))
    assert not is_assignable(LiteralType(Kind.UNION, variants=(INT, NONE)), INT)
    assert is_assignable(LiteralType(Kind.LIST, item=INT), LiteralType(Kind.LIST, item=INT))
    assert not is_assignable(LiteralType(Kind.LIST, item=INT), LiteralType(Kind.LIST, item=STR))
    renamed = LiteralType(Kind.RECORD, fields=POINT.fields, name="Other")
    assert is_assignable(renamed, POINT)
    assert is_assignable(LiteralType(Kind.DATAFRAME), LiteralType(Kind.DATAFRAME))


# --- unsupported types -----------------------------------------------------------------------


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@pytest.mark.parametrize(
    ("py", "needle"),
    [
        (set[int], "set[int] is not supported"),
        (typing.Any, "Any is not supported"),
        (object, "object is not supported"),
        (list, "list is not supported"),
        (dict[int, str], "keys must be strings"),
        (Level, "non-string values"),
    ],
    ids=["set", "Any", "object", "bare-list", "int-keys", "int-enum"],
)
def test_unsupported_type(py: Any, needle: str) -> None:
    with pytest.raises(InterfaceError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        TypeEngine.to_literal_type(py)


def test_task_with_an_unsupported_input_type_fails_at_declaration() -> None:
    def tally(items: set[str]) -> int:
        return len(items)

    with pytest.raises(InterfaceError) as info:
        task(tally)
    msg = str(info.value)

    assert "tally" in msg
    assert "input 'items'" in msg
    assert "not supported" in msg
    assert "supported are int, float, str" in msg


def test_task_with_an_unsupported_output_type_fails_at_declaration() -> None:
    def pair() -> set[int]:
        return {1}

    with pytest.raises(InterfaceError, match="output 'o0'"):
        task(pair)


def test_task_default_of_the_wrong_type_fails_at_declaration() -> None:
    def scale(x: int = "ten") -> int:  # type: ignore[assignment]
        return x

    with pytest.raises(InterfaceError, match="default of input 'x': expected int"):
        task(scale)
