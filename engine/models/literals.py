"""Literal values of flytekit's model (``flytekit.models.literals``): a leaf module of plain data.

A :class:`Literal` holds a scalar, a collection or a map; a :class:`Scalar` one of its
value fields (flyteidl's ``oneof``). ``.value`` of each returns whichever is set, as flytekit's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from engine.models.core.types import BlobType
from engine.models.types import LiteralType, StructuredDatasetType


def _set_field(obj: Any) -> Any:
    """The one field of a ``oneof`` dataclass that is not None, or None when none is."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is not None:
            return value
    return None


@dataclass(frozen=True)
class Primitive:
    """A primitive value; set exactly one field."""

    integer: int | None = None
    float_value: float | None = None
    string_value: str | None = None
    boolean: bool | None = None
    datetime: dt.datetime | None = None
    duration: dt.timedelta | None = None

    @property
    def value(self) -> Any:
        """The value of whichever field is set."""
        return _set_field(self)


@dataclass(frozen=True)
class Void:
    """The value of the NONE type."""


@dataclass(frozen=True)
class Binary:
    """Bytes, with a tag saying how they are encoded ("msgpack")."""

    value: bytes
    tag: str = ""


@dataclass(frozen=True)
class BlobMetadata:
    """What a blob literal holds: its :class:`BlobType`."""

    type: BlobType


@dataclass(frozen=True)
class Blob:
    """A file or directory stored at ``uri``."""

    metadata: BlobMetadata
    uri: str


@dataclass(frozen=True)
class StructuredDatasetMetadata:
    """What a stored dataframe holds: its :class:`StructuredDatasetType` (columns, format)."""

    structured_dataset_type: StructuredDatasetType | None = None


@dataclass(frozen=True)
class StructuredDataset:
    """A dataframe stored at ``uri``."""

    uri: str
    metadata: StructuredDatasetMetadata | None = None


@dataclass(frozen=True)
class Union:
    """A value of a union type, with the variant it was written as."""

    value: Literal
    stored_type: LiteralType


@dataclass(frozen=True)
class Scalar:
    """A single value; set exactly one field."""

    primitive: Primitive | None = None
    blob: Blob | None = None
    binary: Binary | None = None
    union: Union | None = None
    none_type: Void | None = None
    structured_dataset: StructuredDataset | None = None

    @property
    def value(self) -> Any:
        """The value of whichever field is set."""
        return _set_field(self)


@dataclass(frozen=True)
class LiteralCollection:
    """A list of literals."""

    literals: list[Literal]


@dataclass(frozen=True)
class LiteralMap:
    """Literals by string key."""

    literals: dict[str, Literal]


@dataclass(frozen=True)
class Literal:
    """A value of any literal type; set exactly one of ``scalar``, ``collection``, ``map``.

    Attributes:
        scalar: a single value.
        collection: a list.
        map: a map with string keys.
        hash: when set, what the data catalog's cache keys use for this value instead of
            its content (as flytekit's ``Literal.hash``).
        metadata: free-form data about the value.
    """

    scalar: Scalar | None = None
    collection: LiteralCollection | None = None
    map: LiteralMap | None = None
    hash: str | None = None
    metadata: dict[str, str] | None = None

    @property
    def value(self) -> Scalar | LiteralCollection | LiteralMap | None:
        """Whichever of ``scalar``, ``collection`` and ``map`` is set."""
        if self.scalar is not None:
            return self.scalar
        return self.collection if self.collection is not None else self.map
