"""Literal types: the engine's language-neutral description of a value's type.

A leaf module of plain data. The spec stores these; the type engine maps Python
types onto them; the compiler and the spec loader check bindings with
:func:`is_assignable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(str, Enum):
    """What shape of value a :class:`LiteralType` describes."""

    SIMPLE = "simple"
    LIST = "list"
    MAP = "map"
    UNION = "union"
    ENUM = "enum"
    RECORD = "record"
    DATAFRAME = "dataframe"
    BLOB = "blob"  # a file, or a directory when ``multipart``
    PICKLE = "pickle"  # a Python type opaque to the engine


class Simple(str, Enum):
    """Scalar types, named as in Flyte's SimpleType."""

    NONE = "none"
    INTEGER = "integer"
    FLOAT = "float"
    STRING = "string"
    BOOLEAN = "boolean"
    BINARY = "binary"
    DATETIME = "datetime"
    DURATION = "duration"


_SIMPLE_NAMES = {
    Simple.NONE: "None",
    Simple.INTEGER: "int",
    Simple.FLOAT: "float",
    Simple.STRING: "str",
    Simple.BOOLEAN: "bool",
    Simple.BINARY: "bytes",
    Simple.DATETIME: "datetime",
    Simple.DURATION: "timedelta",
}


@dataclass(frozen=True)
class LiteralType:
    """An immutable type description; which fields are set depends on ``kind``."""

    kind: Kind
    # SIMPLE: the scalar type.
    simple: Simple | None = None
    # LIST and MAP (keys are always strings): the element type.
    item: LiteralType | None = None
    # UNION: the alternatives; Optional[T] is the union of T and NONE.
    variants: tuple[LiteralType, ...] = ()
    # ENUM: the allowed string values, in declaration order.
    values: tuple[str, ...] = ()
    # RECORD (dataclasses): field name and type, in declaration order.
    # DATAFRAME: declared columns, empty when any columns are accepted.
    fields: tuple[tuple[str, LiteralType], ...] = ()
    # ENUM, RECORD and BLOB: the Python class name, for messages only (a BLOB of a
    # flytekit-style transformer's type; "" for FlyteFile and FlyteDirectory).
    # PICKLE: the qualified Python type name, compared when binding.
    name: str = ""
    # BLOB and DATAFRAME: the format tag ("csv", "parquet"), "" for any.
    format: str = ""
    # BLOB: a directory (many parts) rather than a single file.
    multipart: bool = False

    def __str__(self) -> str:
        if self.kind is Kind.SIMPLE:
            assert self.simple is not None  # invariant of construction
            return _SIMPLE_NAMES[self.simple]
        if self.kind is Kind.LIST:
            return f"list[{self.item}]"
        if self.kind is Kind.MAP:
            return f"dict[str, {self.item}]"
        if self.kind is Kind.UNION:
            others = [v for v in self.variants if v != NONE]
            if len(others) == 1 and len(self.variants) == 2:
                return f"Optional[{others[0]}]"
            return "Union[" + ", ".join(str(v) for v in self.variants) + "]"
        if self.kind is Kind.ENUM:
            return f"{self.name or 'Enum'}({', '.join(self.values)})"
        if self.kind is Kind.RECORD:
            return f"dataclass {self.name}"
        if self.kind is Kind.BLOB:
            base = self.name or ("FlyteDirectory" if self.multipart else "FlyteFile")
            return f"{base}[{self.format}]" if self.format else base
        if self.kind is Kind.PICKLE:
            return f"pickled {self.name}"
        cols = ", ".join(f"{n}: {t}" for n, t in self.fields)
        return f"DataFrame[{cols}]" if cols else "DataFrame"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; only the fields that matter for ``kind`` are written."""
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.simple is not None:
            out["simple"] = self.simple.value
        if self.item is not None:
            out["item"] = self.item.to_dict()
        if self.variants:
            out["variants"] = [v.to_dict() for v in self.variants]
        if self.values:
            out["values"] = list(self.values)
        if self.fields:
            out["fields"] = [[n, t.to_dict()] for n, t in self.fields]
        if self.name:
            out["name"] = self.name
        if self.format:
            out["format"] = self.format
        if self.multipart:
            out["multipart"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiteralType:
        """Rebuild from :meth:`to_dict` output; raises KeyError/ValueError on bad data."""
        return cls(
            kind=Kind(data["kind"]),
            simple=Simple(data["simple"]) if "simple" in data else None,
            item=cls.from_dict(data["item"]) if "item" in data else None,
            variants=tuple(cls.from_dict(v) for v in data.get("variants", ())),
            values=tuple(data.get("values", ())),
            fields=tuple((n, cls.from_dict(t)) for n, t in data.get("fields", ())),
            name=data.get("name", ""),
            format=data.get("format", ""),
            multipart=bool(data.get("multipart", False)),
        )


def simple(kind: Simple) -> LiteralType:
    return LiteralType(Kind.SIMPLE, simple=kind)


NONE = simple(Simple.NONE)


def is_assignable(source: LiteralType, target: LiteralType) -> bool:
    """Whether a value of type ``source`` may be bound to an input of type ``target``.

    Types must match exactly, as in Flyte's compiler, except that a union target
    accepts any of its variants, records compare structurally and a dataframe
    target accepts any dataframe holding the columns it declares.
    """
    if source == target:
        return True
    if target.kind is Kind.UNION:
        if source.kind is Kind.UNION:
            return all(is_assignable(v, target) for v in source.variants)
        return any(is_assignable(source, v) for v in target.variants)
    if source.kind is not target.kind:
        return False
    if source.kind in (Kind.LIST, Kind.MAP):
        assert source.item is not None and target.item is not None
        return is_assignable(source.item, target.item)
    if source.kind is Kind.ENUM:
        return set(source.values) == set(target.values)
    if source.kind is Kind.RECORD:
        src = dict(source.fields)
        dst = dict(target.fields)
        return src.keys() == dst.keys() and all(is_assignable(src[k], dst[k]) for k in dst)
    if source.kind is Kind.BLOB:
        return source.multipart == target.multipart and (
            not source.format or not target.format or source.format == target.format
        )
    if source.kind is Kind.PICKLE:
        return source.name == target.name
    if source.kind is Kind.DATAFRAME:
        if not target.fields:
            return True
        src_cols = dict(source.fields)
        return not src_cols or all(
            n in src_cols and src_cols[n] == t for n, t in target.fields
        )
    return False


def literal_matches(value: Any, target: LiteralType) -> bool:
    """Whether a JSON literal (as written in specs) is a valid value of ``target``."""
    if target.kind is Kind.UNION:
        if isinstance(value, dict) and value.keys() == {"variant", "value"}:
            # A tagged union value, as the type engine writes it.
            return any(
                str(v) == value["variant"] and literal_matches(value["value"], v)
                for v in target.variants
            )
        return any(literal_matches(value, v) for v in target.variants)
    if target.kind is Kind.SIMPLE:
        return _simple_matches(value, target.simple)
    if target.kind is Kind.LIST:
        assert target.item is not None
        return isinstance(value, list) and all(literal_matches(v, target.item) for v in value)
    if target.kind is Kind.MAP:
        assert target.item is not None
        return isinstance(value, dict) and all(
            isinstance(k, str) and literal_matches(v, target.item) for k, v in value.items()
        )
    if target.kind is Kind.ENUM:
        return isinstance(value, str) and value in target.values
    if target.kind is Kind.RECORD:
        return (
            isinstance(value, dict)
            and value.keys() == {n for n, _ in target.fields}
            and all(literal_matches(value[n], t) for n, t in target.fields)
        )
    if target.kind is Kind.BLOB:
        return isinstance(value, str)  # a path or URI
    if target.kind is Kind.DATAFRAME:
        return isinstance(value, dict) and isinstance(value.get("uri"), str)
    if target.kind is Kind.PICKLE:
        return isinstance(value, dict) and isinstance(value.get("pickle"), str)
    return False


def _simple_matches(value: Any, kind: Simple | None) -> bool:
    if kind is Simple.NONE:
        return value is None
    if kind is Simple.BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is Simple.INTEGER:
        return isinstance(value, int)
    if kind in (Simple.FLOAT, Simple.DURATION):
        return isinstance(value, (int, float))
    # STRING, BINARY (base64) and DATETIME (ISO 8601) are strings in JSON.
    return isinstance(value, str)


def holds_blob(t: LiteralType) -> bool:
    """Whether values of ``t`` may contain files or directories."""
    if t.kind is Kind.BLOB:
        return True
    nested = [*([t.item] if t.item else []), *t.variants, *(f for _, f in t.fields)]
    return t.kind is not Kind.DATAFRAME and any(holds_blob(n) for n in nested)
