"""Between flytekit's literal model (:mod:`engine.models`) and the engine's own literal types
and JSON forms (:mod:`engine.types.literal`).

A transformer written the flytekit way speaks the model; the spec, the compiler's type
checks and the stores speak the engine's forms. A model literal type maps onto exactly one
engine literal type, and a model literal of that type onto exactly the JSON the engine's own
transformers write for it (a blob: its URI; a dataframe: ``{"uri", "format"}``), so values
of user types are stored, fetched and checked like any other.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from engine.errors import InterfaceError
from engine.models import literals as lm
from engine.models import types as tm
from engine.models.core.types import BlobType
from engine.types.literal import Kind, LiteralType, Simple, simple

_SIMPLE: dict[tm.SimpleType, Simple] = {
    tm.SimpleType.NONE: Simple.NONE,
    tm.SimpleType.INTEGER: Simple.INTEGER,
    tm.SimpleType.FLOAT: Simple.FLOAT,
    tm.SimpleType.STRING: Simple.STRING,
    tm.SimpleType.BOOLEAN: Simple.BOOLEAN,
    tm.SimpleType.DATETIME: Simple.DATETIME,
    tm.SimpleType.DURATION: Simple.DURATION,
    tm.SimpleType.BINARY: Simple.BINARY,
}
_MODEL_SIMPLE = {v: k for k, v in _SIMPLE.items()}


def engine_type(t: tm.LiteralType, where: str) -> LiteralType:
    """The engine's literal type for a model one; ``where`` names its origin in errors."""
    if t.simple is not None:
        if t.simple not in _SIMPLE:
            raise InterfaceError(f"{where}: simple type {tm.SimpleType(t.simple).name} has no "
                                 f"Flyray form; use {', '.join(s.name for s in _SIMPLE)}")
        return simple(_SIMPLE[tm.SimpleType(t.simple)])
    if t.blob is not None:
        return LiteralType(Kind.BLOB, format=t.blob.format,
                           multipart=t.blob.dimensionality == BlobType.BlobDimensionality.MULTIPART)
    if t.collection_type is not None:
        return LiteralType(Kind.LIST, item=engine_type(t.collection_type, where))
    if t.map_value_type is not None:
        return LiteralType(Kind.MAP, item=engine_type(t.map_value_type, where))
    if t.enum_type is not None:
        return LiteralType(Kind.ENUM, values=tuple(t.enum_type.values))
    if t.structured_dataset_type is not None:
        sd = t.structured_dataset_type
        return LiteralType(Kind.DATAFRAME, format=sd.format, fields=tuple(
            (c.name, engine_type(c.literal_type, where)) for c in sd.columns))
    raise InterfaceError(f"{where}: the literal type sets none of simple, blob, collection_type, "
                         f"map_value_type, enum_type, structured_dataset_type (got {t})")


def model_type(t: LiteralType) -> tm.LiteralType:
    """The model literal type of an engine one (what a flytekit transformer is ``expected``);
    kinds the model has no form for (records, unions, pickles) give an empty LiteralType."""
    if t.kind is Kind.SIMPLE and t.simple is not None:
        return tm.LiteralType(simple=_MODEL_SIMPLE[t.simple])
    if t.kind is Kind.BLOB:
        dim = BlobType.BlobDimensionality.MULTIPART if t.multipart else \
            BlobType.BlobDimensionality.SINGLE
        return tm.LiteralType(blob=BlobType(format=t.format, dimensionality=dim))
    if t.kind in (Kind.LIST, Kind.MAP) and t.item is not None:
        item = model_type(t.item)
        return tm.LiteralType(collection_type=item) if t.kind is Kind.LIST else \
            tm.LiteralType(map_value_type=item)
    if t.kind is Kind.ENUM:
        return tm.LiteralType(enum_type=tm.EnumType(values=list(t.values)))
    if t.kind is Kind.DATAFRAME:
        return tm.LiteralType(structured_dataset_type=tm.StructuredDatasetType(
            columns=[tm.StructuredDatasetType.DatasetColumn(n, model_type(c))
                     for n, c in t.fields], format=t.format))
    return tm.LiteralType()


def to_json(literal: lm.Literal, t: LiteralType, where: str) -> Any:
    """The engine's JSON form of a model literal of type ``t``."""
    if literal.collection is not None and t.kind is Kind.LIST and t.item is not None:
        return [to_json(v, t.item, where) for v in literal.collection.literals]
    if literal.map is not None and t.kind is Kind.MAP and t.item is not None:
        return {k: to_json(v, t.item, where) for k, v in literal.map.literals.items()}
    scalar = literal.scalar
    if scalar is not None:
        if scalar.none_type is not None:
            return None
        if scalar.blob is not None and t.kind is Kind.BLOB:
            return scalar.blob.uri
        if scalar.structured_dataset is not None and t.kind is Kind.DATAFRAME:
            meta = scalar.structured_dataset.metadata
            sd_type = meta.structured_dataset_type if meta is not None else None
            return {"uri": scalar.structured_dataset.uri,
                    "format": (sd_type.format if sd_type else "") or t.format or "parquet"}
        if scalar.binary is not None and t.simple is Simple.BINARY:
            return base64.b64encode(scalar.binary.value).decode("ascii")
        if scalar.primitive is not None and t.kind in (Kind.SIMPLE, Kind.ENUM):
            return _primitive_json(scalar.primitive)
    raise InterfaceError(f"{where}: the literal {literal} is not a value of type {t}")


def _primitive_json(p: lm.Primitive) -> Any:
    value = p.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def from_json(data: Any, t: LiteralType, where: str) -> lm.Literal:
    """The model literal of the engine's JSON form ``data`` of type ``t``."""
    if data is None:
        return lm.Literal(scalar=lm.Scalar(none_type=lm.Void()))
    if t.kind is Kind.LIST and t.item is not None and isinstance(data, list):
        return lm.Literal(collection=lm.LiteralCollection(
            [from_json(v, t.item, where) for v in data]))
    if t.kind is Kind.MAP and t.item is not None and isinstance(data, dict):
        return lm.Literal(map=lm.LiteralMap(
            {k: from_json(v, t.item, where) for k, v in data.items()}))
    if t.kind is Kind.BLOB and isinstance(data, str):
        blob_type = model_type(t).blob
        assert blob_type is not None  # a BLOB kind maps to a blob type
        return lm.Literal(scalar=lm.Scalar(blob=lm.Blob(lm.BlobMetadata(blob_type), data)))
    if t.kind is Kind.DATAFRAME and isinstance(data, dict) and isinstance(data.get("uri"), str):
        sd_type = model_type(t).structured_dataset_type
        assert sd_type is not None  # a DATAFRAME kind maps to a structured dataset type
        sd_type = tm.StructuredDatasetType(sd_type.columns, str(data.get("format") or ""))
        return lm.Literal(scalar=lm.Scalar(structured_dataset=lm.StructuredDataset(
            data["uri"], lm.StructuredDatasetMetadata(sd_type))))
    if t.kind in (Kind.SIMPLE, Kind.ENUM):
        return lm.Literal(scalar=_simple_scalar(data, t, where))
    raise InterfaceError(f"{where}: {data!r} is not a value of type {t}")


def _simple_scalar(data: Any, t: LiteralType, where: str) -> lm.Scalar:
    kind = t.simple if t.kind is Kind.SIMPLE else Simple.STRING
    if kind is Simple.BINARY and isinstance(data, str):
        return lm.Scalar(binary=lm.Binary(base64.b64decode(data), ""))
    if kind is Simple.DATETIME and isinstance(data, str):
        return lm.Scalar(primitive=lm.Primitive(datetime=dt.datetime.fromisoformat(data)))
    if kind is Simple.DURATION and isinstance(data, (int, float)):
        return lm.Scalar(primitive=lm.Primitive(duration=dt.timedelta(seconds=data)))
    if kind is Simple.BOOLEAN and isinstance(data, bool):
        return lm.Scalar(primitive=lm.Primitive(boolean=data))
    if kind is Simple.INTEGER and isinstance(data, int) and not isinstance(data, bool):
        return lm.Scalar(primitive=lm.Primitive(integer=data))
    if kind is Simple.FLOAT and isinstance(data, (int, float)) and not isinstance(data, bool):
        return lm.Scalar(primitive=lm.Primitive(float_value=float(data)))
    if kind is Simple.STRING and isinstance(data, str):
        return lm.Scalar(primitive=lm.Primitive(string_value=data))
    raise InterfaceError(f"{where}: {data!r} is not a value of type {t}")
