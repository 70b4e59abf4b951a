"""Literal types of flytekit's model (``flytekit.models.types``): a leaf module of plain data.

A :class:`LiteralType` sets exactly one of its type fields (flyteidl's ``oneof``), as flytekit's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from engine.models.core.types import BlobType


class SimpleType(IntEnum):
    """Scalar types; the values are flyteidl's."""

    NONE = 0
    INTEGER = 1
    FLOAT = 2
    STRING = 3
    BOOLEAN = 4
    DATETIME = 5
    DURATION = 6
    BINARY = 7
    ERROR = 8
    STRUCT = 9


@dataclass(frozen=True)
class StructuredDatasetType:
    """The type of a dataframe: its columns (empty for any) and storage format.

    Attributes:
        columns: the declared columns, in order.
        format: the storage format ("parquet", "csv"); "" for the default.
        external_schema_type: the kind of ``external_schema_bytes`` ("arrow"), if any.
        external_schema_bytes: a serialized schema in that kind, if any.
    """

    @dataclass(frozen=True)
    class DatasetColumn:
        """One declared column: its name and literal type."""

        name: str
        literal_type: LiteralType

    columns: list[StructuredDatasetType.DatasetColumn] = field(default_factory=list)
    format: str = ""
    external_schema_type: str | None = None
    external_schema_bytes: bytes | None = None


@dataclass(frozen=True)
class EnumType:
    """An enum: the string values it allows, in declaration order."""

    values: list[str]


@dataclass(frozen=True)
class UnionType:
    """A union: the literal types it allows."""

    variants: list[LiteralType]


@dataclass(frozen=True)
class LiteralType:
    """The type of a literal; set exactly one of the type fields.

    Attributes:
        simple: a scalar type.
        collection_type: for a list, the type of its elements.
        map_value_type: for a map with string keys, the type of its values.
        blob: a file or directory.
        enum_type: an enum of strings.
        union_type: one of several types.
        structured_dataset_type: a dataframe.
        metadata: free-form data about the type, not part of its identity for binding.
    """

    simple: SimpleType | None = None
    collection_type: LiteralType | None = None
    map_value_type: LiteralType | None = None
    blob: BlobType | None = None
    enum_type: EnumType | None = None
    union_type: UnionType | None = None
    structured_dataset_type: StructuredDatasetType | None = None
    metadata: dict[str, Any] | None = None
