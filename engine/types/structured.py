"""Dataframes: ``pandas.DataFrame``, ``pyarrow.Table`` and ``StructuredDataset``.

Inside an execution a dataframe passes between tasks as a Ray object (Arrow and
NumPy buffers are read zero-copy from the object store); it becomes parquet only
where it must outlive the execution. The three flavours convert into each other
at a task's input, and ``Annotated[T, kwtypes(a=int, ...)]`` declares columns: an
output must hold them, an input receives only them.
"""

from __future__ import annotations

import hashlib
import sys
import typing
from typing import Any

from engine.catalog.blob import BlobStore, StorageConfig
from engine.errors import DataError, InterfaceError
from engine.types.literal import Kind, LiteralType
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

    def open(self, dataframe_type: Any) -> StructuredDataset:
        self._open_as = dataframe_type
        return self

    def all(self) -> Any:
        """The whole dataset in the flavour given to :meth:`open`."""
        data = self.dataframe
        if data is None:
            assert self.uri is not None
            store = BlobStore(self._storage or StorageConfig(root=self.uri))
            data = store.read_parquet(self.uri, columns=self._columns)
        data = select_columns(data, self._columns, f"dataset {self.uri or ''}".strip())
        return convert(data, self._open_as or _pandas().DataFrame)

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
    if kind == "dataset":
        return data if isinstance(data, StructuredDataset) else StructuredDataset(data)
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
        columns = declared_columns(python_type)
        if columns:
            reason = column_mismatch(value, columns)
            if reason:
                raise DataError(f"{where}: the dataframe {reason}")
        return value

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        columns = list(declared_columns(python_type)) or None
        if isinstance(value, StructuredDataset):
            value._storage = value._storage or ctx.store.config
            if flavour(python_type) == "dataset":
                value._columns = columns
                return value
            value = value.all()
        return convert(select_columns(value, columns, where), python_type)

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
        dataset = StructuredDataset(uri=uri)
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
