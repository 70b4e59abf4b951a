"""Transformers of the built-in types: scalars, list, dict, Optional/Union, Enum, dataclass.

Containers pass boundary conversions (files, dataframes) and content hashing down to
their elements.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import enum
import numbers
import types
import typing
from typing import Any

from engine.errors import InterfaceError
from engine.types.hashing import parts_hash
from engine.types.literal import Kind, LiteralType, Simple, simple
from engine.types.type_engine import (
    DataContext,
    TypeEngine,
    TypeTransformer,
    container_item_type,
    expect,
    short_repr,
    type_name,
)


class _SimpleTransformer(TypeTransformer[Any]):
    def __init__(self, py: type, kind: Simple, accepts: tuple[type, ...]) -> None:
        self.py = py
        self.kind = kind
        self.accepts = accepts
        self.name = py.__name__

    def matches(self, python_type: Any) -> bool:
        return python_type is self.py

    def get_literal_type(self, python_type: Any) -> LiteralType:
        return simple(self.kind)

    def check(self, value: Any, python_type: Any) -> str | None:
        if isinstance(value, self.accepts) and not (
            isinstance(value, bool) and self.py is not bool
        ):
            return None
        return f"expected {self.name}, got {type(value).__name__} {short_repr(value)}"

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        if self.kind is Simple.BINARY:
            return base64.b64encode(value).decode("ascii")
        if self.kind is Simple.DATETIME:
            return value.isoformat()
        if self.kind is Simple.DURATION:
            return value.total_seconds()
        if self.kind is Simple.INTEGER:
            return int(value)
        if self.kind is Simple.FLOAT:
            return float(value)
        return value

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        if self.kind is Simple.BINARY:
            return base64.b64decode(expect(data, str, "a base64 string"), validate=True)
        if self.kind is Simple.DATETIME:
            return dt.datetime.fromisoformat(expect(data, str, "an ISO 8601 date-time"))
        if self.kind is Simple.DURATION:
            return dt.timedelta(seconds=expect(data, (int, float), "a number of seconds"))
        if self.kind is Simple.FLOAT:
            return float(expect(data, (int, float), "a number"))
        if self.kind is Simple.NONE:
            return expect(data, type(None), "null")
        value = expect(data, self.py, f"a JSON {self.name}")
        if isinstance(value, bool) and self.py is not bool:
            raise TypeError(f"expected a JSON {self.name}, got {data!r}")
        return value


class _ListTransformer(TypeTransformer[list[Any]]):
    name = "list"

    def matches(self, python_type: Any) -> bool:
        return typing.get_origin(python_type) is list

    def _item(self, python_type: Any) -> Any:
        args = typing.get_args(python_type)
        if len(args) != 1:
            raise InterfaceError(f"{python_type} needs one element type, like list[int]")
        return args[0]

    def get_literal_type(self, python_type: Any) -> LiteralType:
        return LiteralType(Kind.LIST, item=TypeEngine.to_literal_type(self._item(python_type)))

    def check(self, value: Any, python_type: Any) -> str | None:
        if not isinstance(value, list):
            return f"expected {type_name(python_type)}, got {type(value).__name__}"
        item = self._item(python_type)
        for i, v in enumerate(value):
            reason = TypeEngine.check(v, item)
            if reason:
                return f"[{i}]: {reason}"
        return None

    def has_boundary(self, python_type: Any) -> bool:
        return TypeEngine.has_boundary(self._item(python_type))

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        item = self._item(python_type)
        return [TypeEngine.to_task_input(v, item, ctx, f"{where}[{i}]")
                for i, v in enumerate(value)]

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        item = self._item(python_type)
        return [TypeEngine.from_task_output(v, item, ctx, f"{where}[{i}]")
                for i, v in enumerate(value)]

    def to_json(self, value: list[Any], python_type: Any, ctx: DataContext | None = None) -> Any:
        item = self._item(python_type)
        return [TypeEngine.to_json(v, item, ctx) for v in value]

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> list[Any]:
        item = self._item(python_type)
        return [TypeEngine.from_json(v, item, ctx) for v in expect(data, list, "a JSON list")]

    def content_hash(self, value: list[Any], python_type: Any) -> str | None:
        return _hash_items(value, self._item(python_type))


class _DictTransformer(TypeTransformer[dict[str, Any]]):
    name = "dict"

    def matches(self, python_type: Any) -> bool:
        return typing.get_origin(python_type) is dict

    def _value(self, python_type: Any) -> Any:
        args = typing.get_args(python_type)
        if len(args) != 2 or args[0] is not str:
            raise InterfaceError(
                f"{python_type} is not supported: use dict[str, T] (keys must be strings)"
            )
        return args[1]

    def get_literal_type(self, python_type: Any) -> LiteralType:
        return LiteralType(Kind.MAP, item=TypeEngine.to_literal_type(self._value(python_type)))

    def check(self, value: Any, python_type: Any) -> str | None:
        if not isinstance(value, dict):
            return f"expected {type_name(python_type)}, got {type(value).__name__}"
        item = self._value(python_type)
        for k, v in value.items():
            if not isinstance(k, str):
                return f"key {k!r}: expected str keys"
            reason = TypeEngine.check(v, item)
            if reason:
                return f"[{k!r}]: {reason}"
        return None

    def has_boundary(self, python_type: Any) -> bool:
        return TypeEngine.has_boundary(self._value(python_type))

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        item = self._value(python_type)
        return {k: TypeEngine.to_task_input(v, item, ctx, f"{where}[{k!r}]")
                for k, v in value.items()}

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        item = self._value(python_type)
        return {k: TypeEngine.from_task_output(v, item, ctx, f"{where}[{k!r}]")
                for k, v in value.items()}

    def to_json(
        self, value: dict[str, Any], python_type: Any, ctx: DataContext | None = None
    ) -> Any:
        item = self._value(python_type)
        return {k: TypeEngine.to_json(v, item, ctx) for k, v in value.items()}

    def from_json(
        self, data: Any, python_type: Any, ctx: DataContext | None = None
    ) -> dict[str, Any]:
        item = self._value(python_type)
        obj = expect(data, dict, "a JSON object")
        return {k: TypeEngine.from_json(v, item, ctx) for k, v in obj.items()}

    def content_hash(self, value: dict[str, Any], python_type: Any) -> str | None:
        return _hash_entries(value, self._value(python_type))


def _hash_items(values: list[Any], item_type: Any) -> str:
    """A list's content hash: its elements' hashes, in order."""
    return parts_hash(TypeEngine.content_hash(v, item_type) for v in values)


def _hash_entries(values: dict[Any, Any], item_type: Any) -> str:
    """A dict's content hash: its entries' hashes, in key order."""
    return parts_hash(f"{k}={TypeEngine.content_hash(v, item_type)}"
                      for k, v in sorted(values.items()))


def hash_by_kind(value: Any, python_type: Any) -> str | None:
    """The content hash of a value whose type does not say how it is laid out (a union,
    an opaque type), decided by the value itself.

    Lists and dicts are hashed element by element, with the element type that
    ``python_type`` names if any; any other value as the transformer of its own class
    hashes it (files and dataframes by their bytes). None: the JSON form of
    ``python_type`` identifies the value.
    """
    if isinstance(value, list):
        return _hash_items(value, container_item_type(python_type, list))
    if isinstance(value, dict):
        return _hash_entries(value, container_item_type(python_type, dict))
    own = TypeEngine.get_transformer(type(value))
    # The fallback would come back here: an opaque value is hashed as its pickle.
    return None if own is TypeEngine.fallback else own.content_hash(value, type(value))


class _UnionTransformer(TypeTransformer[Any]):
    """Optional[T] and Union[...].

    In JSON, a value of a union with several non-None variants is tagged with its
    variant ({"variant": "datetime", "value": ...}), since a JSON string could be a
    str, a datetime, bytes or an enum. Untagged input (typed on the command line)
    is decoded by the most specific variant that accepts it, str last.
    """

    name = "Union"

    def matches(self, python_type: Any) -> bool:
        return typing.get_origin(python_type) in (typing.Union, types.UnionType)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        variants = tuple(TypeEngine.to_literal_type(a) for a in typing.get_args(python_type))
        return LiteralType(Kind.UNION, variants=variants)

    def _variant(self, value: Any, python_type: Any) -> Any:
        for arg in typing.get_args(python_type):
            if TypeEngine.check(value, arg) is None:
                return arg
        raise TypeError(f"expected {type_name(python_type)}, got {type(value).__name__}")

    def check(self, value: Any, python_type: Any) -> str | None:
        try:
            self._variant(value, python_type)
        except TypeError as e:
            return str(e)
        return None

    def has_boundary(self, python_type: Any) -> bool:
        return any(TypeEngine.has_boundary(a) for a in typing.get_args(python_type))

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        return TypeEngine.to_task_input(value, self._variant(value, python_type), ctx, where)

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        variant = self._variant(value, python_type)
        return TypeEngine.from_task_output(value, variant, ctx, where)

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        variant = self._variant(value, python_type)
        data = TypeEngine.to_json(value, variant, ctx)
        if value is None or not _needs_tag(python_type):
            return data
        return {UNION_TAG: str(TypeEngine.to_literal_type(variant)), "value": data}

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        args = typing.get_args(python_type)
        if isinstance(data, dict) and data.keys() == {UNION_TAG, "value"}:
            for arg in args:
                if str(TypeEngine.to_literal_type(arg)) == data[UNION_TAG]:
                    return TypeEngine.from_json(data["value"], arg, ctx)
            raise ValueError(f"{data[UNION_TAG]!r} is not a variant of {type_name(python_type)}")
        errors = []
        for arg in sorted(args, key=_specificity):
            try:
                return TypeEngine.from_json(data, arg, ctx)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise TypeError(f"expected {type_name(python_type)}: " + "; ".join(errors))

    def content_hash(self, value: Any, python_type: Any) -> str | None:
        """By the value's own kind (see :func:`hash_by_kind`); a plain value by the union's
        JSON form, tagged with its variant where there are several."""
        return hash_by_kind(value, python_type)


# Key of the variant tag in the JSON form of union values (see _UnionTransformer).
UNION_TAG = "variant"


def _needs_tag(python_type: Any) -> bool:
    return len([a for a in typing.get_args(python_type) if a is not type(None)]) > 1


def _specificity(python_type: Any) -> int:
    """Decoding order of untagged union input: str, which accepts any string, last."""
    return 1 if python_type is str else 0


class _EnumTransformer(TypeTransformer[enum.Enum]):
    name = "Enum"

    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and issubclass(python_type, enum.Enum)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        values = [m.value for m in python_type]
        if not all(isinstance(v, str) for v in values):
            raise InterfaceError(
                f"Enum {python_type.__name__} has non-string values; as in Flyte, only "
                "enums whose values are all strings are supported"
            )
        return LiteralType(Kind.ENUM, values=tuple(values), name=python_type.__name__)

    def check(self, value: Any, python_type: Any) -> str | None:
        if isinstance(value, python_type):
            return None
        return f"expected {python_type.__name__}, got {type(value).__name__} {short_repr(value)}"

    def to_json(self, value: enum.Enum, python_type: Any, ctx: DataContext | None = None) -> Any:
        return value.value

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> enum.Enum:
        try:
            return python_type(data)  # type: ignore[no-any-return]
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in python_type)
            raise ValueError(
                f"{data!r} is not a {python_type.__name__}; allowed: {allowed}"
            ) from None


class _DataclassTransformer(TypeTransformer[Any]):
    name = "dataclass"

    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and dataclasses.is_dataclass(python_type)

    def _fields(self, python_type: Any) -> list[tuple[str, Any]]:
        # Resolved once where the class is defined and kept on the class: a worker
        # that receives the class pickled by value cannot resolve string annotations
        # (its module is not importable there), but gets this attribute with it.
        cached = python_type.__dict__.get("__flyray_fields__")
        if cached is None:
            hints = typing.get_type_hints(python_type, include_extras=True)
            cached = [(f.name, hints[f.name]) for f in dataclasses.fields(python_type)]
            with contextlib.suppress(AttributeError, TypeError):
                python_type.__flyray_fields__ = cached
        return list(cached)

    def get_literal_type(self, python_type: Any) -> LiteralType:
        fields = tuple((n, TypeEngine.to_literal_type(t)) for n, t in self._fields(python_type))
        return LiteralType(Kind.RECORD, fields=fields, name=python_type.__name__)

    def check(self, value: Any, python_type: Any) -> str | None:
        if not isinstance(value, python_type):
            return f"expected {python_type.__name__}, got {type(value).__name__}"
        for name, t in self._fields(python_type):
            reason = TypeEngine.check(getattr(value, name), t)
            if reason:
                return f".{name}: {reason}"
        return None

    def has_boundary(self, python_type: Any) -> bool:
        return any(TypeEngine.has_boundary(t) for _, t in self._fields(python_type))

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        changes = {n: TypeEngine.to_task_input(getattr(value, n), t, ctx, f"{where}.{n}")
                   for n, t in self._fields(python_type) if TypeEngine.has_boundary(t)}
        return dataclasses.replace(value, **changes)

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        changes = {n: TypeEngine.from_task_output(getattr(value, n), t, ctx, f"{where}.{n}")
                   for n, t in self._fields(python_type) if TypeEngine.has_boundary(t)}
        return dataclasses.replace(value, **changes)

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        return {n: TypeEngine.to_json(getattr(value, n), t, ctx)
                for n, t in self._fields(python_type)}

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        obj = expect(data, dict, f"a JSON object for {python_type.__name__}")
        fields = self._fields(python_type)
        unknown = set(obj) - {n for n, _ in fields}
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)} for {python_type.__name__}")
        kwargs = {n: TypeEngine.from_json(obj[n], t, ctx) for n, t in fields if n in obj}
        return python_type(**kwargs)


def register_builtin_types() -> None:
    for transformer in (
        _SimpleTransformer(int, Simple.INTEGER, (numbers.Integral,)),
        _SimpleTransformer(float, Simple.FLOAT, (numbers.Real,)),
        _SimpleTransformer(str, Simple.STRING, (str,)),
        _SimpleTransformer(bool, Simple.BOOLEAN, (bool,)),
        _SimpleTransformer(bytes, Simple.BINARY, (bytes,)),
        _SimpleTransformer(dt.datetime, Simple.DATETIME, (dt.datetime,)),
        _SimpleTransformer(dt.timedelta, Simple.DURATION, (dt.timedelta,)),
        _ListTransformer(),
        _DictTransformer(),
        _UnionTransformer(),
        _EnumTransformer(),
        _DataclassTransformer(),
    ):
        TypeEngine.register(transformer)
