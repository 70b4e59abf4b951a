"""Dataframes: ``pandas.DataFrame``, ``pyarrow.Table`` and ``StructuredDataset``, at
flytekit's path ``flytekit.types.structured.structured_dataset``.

Inside an execution a dataframe passes between tasks as a Ray object (Arrow and
NumPy buffers are read zero-copy from the object store); it becomes parquet only
where it must outlive the execution. The three flavours convert into each other
at a task's input, and ``Annotated[T, kwtypes(a=int, ...)]`` declares columns: an
output must hold them, an input receives only them. Other types and storage formats plug
in with encoders and decoders (:mod:`engine.types.structured.handlers`).
"""

from __future__ import annotations

import hashlib
import sys
import typing
from typing import Any

from engine.catalog.blob import BlobStore, StorageConfig, protocol_of
from engine.errors import DataError, InterfaceError
from engine.models import literals
from engine.models.types import StructuredDatasetType
from engine.types.file_access import FileAccessProvider
from engine.types.literal import Kind, LiteralType
from engine.types.model_transformer import TransformerContext
from engine.types.structured.handlers import (
    CSV,
    GENERIC_FORMAT,
    PARQUET,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)
from engine.types.type_engine import (
    DataContext,
    TypeEngine,
    TypeTransformer,
    annotated_parts,
    expect,
)


def _pandas() -> Any:
    import pandas  # heavy: loaded when a dataframe is actually handled

    return pandas


def _pa() -> Any:
    import pyarrow  # heavy too: not needed by workers that handle no dataframe

    return pyarrow


def _is_table(value: Any) -> bool:
    """Whether ``value`` is an Arrow Table (without importing Arrow when it cannot be)."""
    arrow = sys.modules.get("pyarrow")
    return arrow is not None and isinstance(value, arrow.Table)


class StructuredDataset:
    """A dataframe, held in memory or stored as parquet at ``uri``, as flytekit's.

    ``sd.open(pd.DataFrame).all()`` returns it in the flavour asked for
    (``pandas.DataFrame`` by default, or ``pyarrow.Table``).
    """

    def __init__(self, dataframe: Any = None, uri: str | None = None,
                 file_format: str = "parquet", metadata: Any = None) -> None:
        if dataframe is None and uri is None:
            raise ValueError("StructuredDataset needs a dataframe or a uri")
        self.dataframe = dataframe
        self.uri = uri
        self.file_format = file_format
        self.metadata = metadata
        self._open_as: Any = None
        self._columns: list[str] | None = None  # declared columns to select
        self._storage: StorageConfig | None = None

    def open(self, dataframe_type: Any = None) -> StructuredDataset:
        """Read it, with :meth:`all`, as ``dataframe_type`` (default ``pandas.DataFrame``)."""
        self._open_as = dataframe_type
        return self

    def all(self) -> Any:
        """The whole dataset in the flavour given to :meth:`open`: read by the decoder
        registered for that type and the stored format, else from parquet."""
        target = self._open_as or _pandas().DataFrame
        data = self.dataframe
        if data is not None and not flavour(target) and isinstance(data, target):
            return data  # already what was asked for (a type of a user's encoder)
        if data is not None and not flavour(target):
            return self._stored().open(target).all()  # a decoder reads it from storage
        if data is None:
            data = self._read(target)
            if not flavour(target):
                return data
        data = select_columns(data, self._columns, f"dataset {self.uri or ''}".strip())
        return convert(data, target)

    def _store(self) -> BlobStore:
        assert self.uri is not None or self._storage is not None
        return BlobStore(self._storage or StorageConfig(root=str(self.uri)))

    def _read(self, target: Any) -> Any:
        assert self.uri is not None
        store = self._store()
        decoder = StructuredDatasetTransformerEngine.decoder(
            target if not flavour(target) else _pandas().DataFrame, protocol_of(self.uri),
            self.file_format)
        if decoder is not None and (decoder.supported_format != PARQUET or not flavour(target)):
            value = literals.StructuredDataset(self.uri, literals.StructuredDatasetMetadata(
                StructuredDatasetType(format=self.file_format)))
            ctx = DataContext(store, store.uri("tmp"))
            return decoder.decode(TransformerContext(FileAccessProvider(ctx)), value,
                                  literals.StructuredDatasetMetadata(StructuredDatasetType(
                                      format=self.file_format)))
        if self.file_format not in (PARQUET, GENERIC_FORMAT):
            raise DataError(f"dataset {self.uri} is stored as {self.file_format} and no "
                            f"decoder reads that as {getattr(target, '__name__', target)}: "
                            "register one with StructuredDatasetTransformerEngine.register")
        return store.read_parquet(self.uri, columns=self._columns)

    def _stored(self) -> StructuredDataset:
        """This in-memory dataset written as a directory of parquet (as flytekit writes
        one), for a decoder to read."""
        store = self._store()
        uri = store.new_uri(store.uri("tmp"), "dataset")
        store.write_parquet(convert(self.dataframe, _pa().Table), f"{uri}/00000")
        stored = StructuredDataset(uri=uri)
        stored._storage = store.config
        stored._columns = self._columns
        return stored

    def iter(self) -> typing.Iterator[Any]:
        yield self.all()

    def __repr__(self) -> str:
        held = "in memory" if self.dataframe is not None else self.uri
        return f"StructuredDataset({held})"


def flavour(python_type: Any) -> str:
    """'pandas', 'arrow' or 'dataset' for a dataframe type (Annotated or not)."""
    base, _ = annotated_parts(python_type)
    if isinstance(base, type) and issubclass(base, StructuredDataset):
        return "dataset"
    if isinstance(base, type) and base.__name__ == "Table" and \
            base.__module__.startswith("pyarrow"):
        return "arrow"
    if isinstance(base, type) and base.__name__ == "DataFrame" and \
            base.__module__.startswith("pandas"):
        return "pandas"
    return ""


def declared_columns(python_type: Any) -> dict[str, Any]:
    """Columns declared with ``Annotated[T, kwtypes(...)]``, name to type."""
    _, meta = annotated_parts(python_type)
    for m in meta:
        if isinstance(m, dict):
            return dict(m)
    return {}


def column_names(data: Any) -> list[str]:
    if _is_table(data):
        return list(data.column_names)
    if isinstance(data, StructuredDataset):
        return column_names(data.dataframe) if data.dataframe is not None else []
    return [str(c) for c in data.columns]


def select_columns(data: Any, columns: list[str] | None, where: str) -> Any:
    if not columns:
        return data
    present = column_names(data)
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{where}: the dataframe lacks declared column(s) {missing}; "
                        f"it has {present}")
    if _is_table(data):
        return data.select(columns)
    return data[columns]


def convert(data: Any, target: Any, keep_index: bool = False) -> Any:
    """``data`` in the flavour of ``target``; the same object when it already is.

    A pandas index becomes Arrow columns only with ``keep_index`` (for storage and
    hashing, where it is part of the data; a task asking for a Table gets the
    columns alone).
    """
    kind = flavour(target)
    if isinstance(data, StructuredDataset):
        data = data.all() if kind != "dataset" else data
    if kind == "dataset":  # the class asked for (a subclass: FlyteSchema), holding it
        cls = annotated_parts(target)[0]
        return data if isinstance(data, cls) else cls(dataframe=data)
    if kind == "arrow":
        return data if _is_table(data) else _pa().Table.from_pandas(
            data, preserve_index=None if keep_index else False)
    return data.to_pandas() if _is_table(data) else data


# Arrow type tests of the column kinds kwtypes may declare, by name in pyarrow.types.
_ARROW_CHECKS: dict[Any, tuple[str, ...]] = {
    int: ("is_integer",),
    float: ("is_floating",),
    str: ("is_string", "is_large_string"),
    bool: ("is_boolean",),
}


def column_mismatch(data: Any, columns: dict[str, Any]) -> str | None:
    """Why ``data`` does not hold the declared ``columns`` (by name and kind), or None."""
    if isinstance(data, StructuredDataset) and data.dataframe is None:
        return None  # stored data is checked when read
    present = column_names(data)
    missing = [c for c in columns if c not in present]
    if missing:
        return f"lacks declared column(s) {missing}; it has {present}"
    frame = data.dataframe if isinstance(data, StructuredDataset) else data
    schema = frame.schema if _is_table(frame) else _pa().Schema.from_pandas(
        frame[list(columns)], preserve_index=False)
    for name, py in columns.items():
        tests = _ARROW_CHECKS.get(py)
        arrow_type = schema.field(name).type
        if tests is not None and not any(getattr(_pa().types, t)(arrow_type) for t in tests):
            return f"column '{name}' holds {arrow_type}, declared {py.__name__}"
    return None


def _arrow_digest(table: Any) -> str:
    """A hash of an Arrow table's schema and buffers: equal content, equal hash, whatever
    the chunking."""
    digest = hashlib.sha256(str(table.schema.remove_metadata()).encode())
    for column in table.combine_chunks().columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return digest.hexdigest()[:32]


class StructuredTransformer(TypeTransformer[Any]):
    """pandas.DataFrame, pyarrow.Table and StructuredDataset, with declared columns."""

    name = "dataframe"
    uses_annotations = True

    def matches(self, python_type: Any) -> bool:
        return bool(flavour(python_type))

    def get_literal_type(self, python_type: Any) -> LiteralType:
        fields = tuple((n, TypeEngine.to_literal_type(t))
                       for n, t in declared_columns(python_type).items())
        for n, t in declared_columns(python_type).items():
            if t not in _ARROW_CHECKS and not isinstance(t, type):
                raise InterfaceError(f"column '{n}' has type {t}; use int, float, str or bool")
        return LiteralType(Kind.DATAFRAME, fields=fields)

    def check(self, value: Any, python_type: Any) -> str | None:
        if _is_table(value) or isinstance(value, (StructuredDataset, _pandas().DataFrame)):
            return None
        return f"expected a dataframe (pandas, Arrow or StructuredDataset), got " \
               f"{type(value).__name__}"

    def has_boundary(self, python_type: Any) -> bool:
        return True

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        """The dataframe as it leaves the task: checked against declared columns; written
        by the registered encoder where the output asks for a format or the dataframe's
        type has no in-memory flavour."""
        frame = value.dataframe if isinstance(value, StructuredDataset) else value
        if frame is None:
            return value  # already stored
        fmt = _output_format(value, python_type)
        encoder = StructuredDatasetTransformerEngine.encoder(
            type(frame), protocol_of(ctx.store.root), fmt) if fmt or not flavour(type(frame)) \
            else None
        if encoder is None and (fmt not in (PARQUET, GENERIC_FORMAT)
                                or not flavour(type(frame))):
            raise DataError(
                f"{where}: no encoder writes {type(frame).__name__} as "
                f"{fmt or 'any format'}: register one with "
                f"StructuredDatasetTransformerEngine.register"
                + (" (for CSV, call register_csv_handlers())" if fmt == CSV else ""))
        columns = declared_columns(python_type)
        if columns and flavour(type(frame)):
            reason = column_mismatch(frame, columns)
            if reason:
                raise DataError(f"{where}: the dataframe {reason}")
        if encoder is None:
            return value
        dataset = value if isinstance(value, StructuredDataset) else StructuredDataset(frame)
        literal = encoder.encode(TransformerContext(FileAccessProvider(ctx)), dataset,
                                 StructuredDatasetType(format=encoder.supported_format or fmt))
        stored_type = literal.metadata.structured_dataset_type if literal.metadata else None
        stored = StructuredDataset(uri=literal.uri, file_format=(
            stored_type.format if stored_type and stored_type.format else fmt or PARQUET))
        stored._storage = ctx.store.config
        return stored

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        columns = list(declared_columns(python_type)) or None
        if isinstance(value, StructuredDataset):
            value._storage = value._storage or ctx.store.config
            if flavour(python_type) == "dataset":
                value._columns = columns
                return value
            value = value.all()
        received = convert(select_columns(value, columns, where), python_type)
        if isinstance(received, StructuredDataset):  # a dataframe wrapped for the task
            received._storage = ctx.store.config  # where a decoder may have it written
        return received

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        if isinstance(value, StructuredDataset) and value.dataframe is None:
            return {"uri": value.uri, "format": value.file_format}
        if ctx is None:
            raise TypeError("a dataframe has no JSON form: pass it as an input at run time "
                            "or produce it in a task, not as a constant")
        table = convert(value, _pa().Table, keep_index=True)
        uri = ctx.store.new_uri(ctx.prefix, "data.parquet")
        ctx.store.write_parquet(table, uri)
        return {"uri": uri, "format": "parquet"}

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        uri = expect(data.get("uri") if isinstance(data, dict) else data, str,
                     "a parquet URI")
        fmt = data.get("format") if isinstance(data, dict) else None
        dataset = StructuredDataset(uri=uri, file_format=fmt or PARQUET)
        dataset._storage = ctx.store.config if ctx is not None else None
        if flavour(python_type) == "dataset":
            return dataset
        return dataset.open(python_type).all()

    def content_hash(self, value: Any, python_type: Any) -> str | None:
        """A stored dataset by its URI; data in memory by its Arrow form (the pandas index
        included), so that equal frames hit whatever their flavour."""
        if isinstance(value, StructuredDataset) and value.dataframe is None:
            return "frame:uri:" + str(value.uri)
        return "frame:" + _arrow_digest(convert(value, _pa().Table, keep_index=True))


def _output_format(value: Any, python_type: Any) -> str:
    """The format an output asks for: ``Annotated[T, "csv"]``, else a StructuredDataset's
    own ``file_format`` when not the default, else the default registered for the
    dataframe's type; "" for none."""
    for meta in annotated_parts(python_type)[1]:
        if isinstance(meta, str):
            return meta
    if isinstance(value, StructuredDataset) and value.file_format != PARQUET:
        return value.file_format
    frame = value.dataframe if isinstance(value, StructuredDataset) else value
    if flavour(type(frame)):
        return GENERIC_FORMAT  # in memory between tasks, parquet where stored
    return StructuredDatasetTransformerEngine.DEFAULT_FORMATS.get(type(frame), GENERIC_FORMAT)


__all__ = ["CSV", "PARQUET", "StructuredDataset", "StructuredDatasetDecoder",
           "StructuredDatasetEncoder", "StructuredDatasetTransformerEngine",
           "StructuredTransformer"]
