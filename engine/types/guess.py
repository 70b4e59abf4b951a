"""Python types guessed from literal types, as flytekit's ``TypeEngine.guess_python_type``:
for entities fetched from the admin API, whose Python code is not at hand.

The guess reads and writes the same JSON as the original type: ``int`` for an integer,
``list[...]``/``dict[str, ...]``, ``Optional``/``Union``, an ``Enum`` or a dataclass made
from the recorded values or fields, ``pandas.DataFrame`` for a dataframe, ``FlyteFile``
or ``FlyteDirectory`` for blobs, and ``object`` for a pickled value (unpickled as is).
Guessed enums and dataclasses are cached, so one literal type gives one class.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import typing
from typing import Any

from engine.dag.spec import Interface
from engine.errors import FlyrayError
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from engine.types.interface import PythonInterface, default_named_tuple
from engine.types.literal import Kind, LiteralType, Simple
from engine.types.structured import StructuredDataset
from engine.types.type_engine import TypeEngine

_SIMPLE: dict[Simple, Any] = {
    Simple.NONE: type(None),
    Simple.INTEGER: int,
    Simple.FLOAT: float,
    Simple.STRING: str,
    Simple.BOOLEAN: bool,
    Simple.BINARY: bytes,
    Simple.DATETIME: dt.datetime,
    Simple.DURATION: dt.timedelta,
}


@functools.lru_cache(maxsize=1024)
def guess_python_type(literal_type: LiteralType) -> Any:
    """A Python type whose values have the JSON form of ``literal_type``."""
    kind = literal_type.kind
    if kind is Kind.SIMPLE:
        assert literal_type.simple is not None  # invariant of LiteralType
        return _SIMPLE[literal_type.simple]
    if kind in (Kind.LIST, Kind.MAP):
        assert literal_type.item is not None  # invariant of LiteralType
        item = guess_python_type(literal_type.item)
        return list[item] if kind is Kind.LIST else dict[str, item]  # type: ignore[valid-type]
    if kind is Kind.UNION:
        return typing.Union[tuple(guess_python_type(v) for v in literal_type.variants)]
    if kind is Kind.ENUM:
        return enum.Enum(literal_type.name or "Enum",  # type: ignore[misc]
                         [(value, value) for value in literal_type.values])
    if kind is Kind.RECORD:
        return dataclasses.make_dataclass(
            literal_type.name or "Record",
            [(name, guess_python_type(t)) for name, t in literal_type.fields])
    if kind is Kind.DATAFRAME:
        import pandas  # heavy: only when a dataframe is read

        return pandas.DataFrame
    if kind is Kind.BLOB:
        base: Any = FlyteDirectory if literal_type.multipart else FlyteFile
        return base[literal_type.format] if literal_type.format else base
    return object  # PICKLE: the pickle fallback reads it whatever the type


def guess_python_interface(interface: Interface) -> PythonInterface:
    """The Python form of a registered interface. Defaults are decoded, except that a
    dataframe default stays a :class:`StructuredDataset` (read only when opened)."""
    inputs = {v.name: guess_python_type(v.type) for v in interface.inputs}
    defaults = {}
    for v in interface.inputs:
        if v.has_default:
            python_type = StructuredDataset if v.type.kind is Kind.DATAFRAME else inputs[v.name]
            try:
                defaults[v.name] = TypeEngine.from_json(v.default, python_type)
            except (TypeError, ValueError, FlyrayError):  # a form this Flyray cannot read
                defaults[v.name] = v.default
    outputs = {v.name: guess_python_type(v.type) for v in interface.outputs}
    output_tuple = default_named_tuple(list(outputs)) if len(outputs) > 1 else None
    return PythonInterface(inputs, defaults, outputs, output_tuple)
