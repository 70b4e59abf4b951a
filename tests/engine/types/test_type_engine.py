"""The type engine: literal types, value checks and JSON round trips for every supported type."""

from __future__ import annotations

import datetime as dt
import enum
import json
import typing
import warnings
from typing import Any

import pandas as pd
import pytest

from engine import task
from engine.errors import InterfaceError, OpaqueTypeWarning
from engine.types.literal import NONE, Kind, LiteralType, Simple, is_assignable, simple
from engine.types.type_engine import TypeEngine
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
    assert TypeEngine.check({"a": [1, 2]}, pd.DataFrame) == (
        "expected a dataframe (pandas, Arrow or StructuredDataset), got dict")


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
        (dict[int, str], "keys must be strings"),
        (Level, "non-string values"),
    ],
    ids=["int-keys", "int-enum"],
)
def test_unsupported_type(py: Any, needle: str) -> None:
    with pytest.raises(InterfaceError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        TypeEngine.to_literal_type(py)


# --- types no transformer knows are pickled, with a warning -------------------------------


def test_unknown_type_is_pickled_with_a_warning_once() -> None:
    class Opaque:
        def __init__(self, n: int) -> None:
            self.n = n

    with pytest.warns(OpaqueTypeWarning, match=r"Opaque is opaque to Flyray: its values are"):
        literal = TypeEngine.to_literal_type(Opaque)
    assert literal.kind is Kind.PICKLE and literal.name.endswith("Opaque")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TypeEngine.to_literal_type(Opaque) == literal  # warned once only
    value = TypeEngine.from_json(TypeEngine.to_json(Opaque(3), Opaque), Opaque)
    assert isinstance(value, Opaque) and value.n == 3
    assert TypeEngine.check(Opaque(1), Opaque) is None
    assert TypeEngine.check("x", Opaque) == "expected Opaque, got str"


def test_generic_types_without_a_transformer_are_pickled() -> None:
    with pytest.warns(OpaqueTypeWarning, match=r"frozenset\[int\]"):
        literal = TypeEngine.to_literal_type(frozenset[int])
    assert literal.kind is Kind.PICKLE
    assert TypeEngine.from_json(TypeEngine.to_json(frozenset({1, 2}), frozenset[int]),
                                frozenset[int]) == frozenset({1, 2})


class Bag:
    """Known to no transformer; used by one test only, so that it warns there."""


def test_task_with_an_unknown_input_type_warns_at_declaration() -> None:
    def tally(items: Bag) -> int:
        return 1

    with pytest.warns(OpaqueTypeWarning, match="Bag"):
        t = task(tally)
    assert t.spec().interface.inputs[0].type.kind is Kind.PICKLE


def test_task_default_of_the_wrong_type_fails_at_declaration() -> None:
    def scale(x: int = "ten") -> int:  # type: ignore[assignment]
        return x

    with pytest.raises(InterfaceError, match="default of input 'x': expected int"):
        task(scale)
