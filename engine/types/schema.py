"""``FlyteSchema``, at flytekit's path ``flytekit.types.schema``: flytekit's older dataframe
type, deprecated there in favour of ``StructuredDataset``, onto which it is mapped here.

``FlyteSchema[kwtypes(a=int), SchemaFormat.PARQUET]`` is a structured dataset with those
columns; a task may return a dataframe for it or write one with ``schema.open().write(df)``,
and read it with ``schema.open().all()`` (a ``pandas.DataFrame``, or the type given to
``open``). Use ``StructuredDataset`` (or a dataframe type) in new code: using FlyteSchema
warns, as flytekit's deprecation says.
"""

from __future__ import annotations

import enum
import warnings
from typing import Annotated, Any

from engine.types.structured.structured_dataset import StructuredDataset

_DEPRECATED = ("FlyteSchema is deprecated, as in flytekit: use StructuredDataset "
               "(engine.types.structured) or a dataframe type instead")


class SchemaFormat(enum.Enum):
    """Storage formats of a schema, as flytekit's; Flyray stores dataframes as parquet."""

    PARQUET = "parquet"


class SchemaOpenMode(enum.Enum):
    READ = "r"
    WRITE = "w"


class FlyteSchema(StructuredDataset):
    """A dataframe with declared columns: a :class:`StructuredDataset` (see the module)."""

    def __init__(self, local_path: str | None = None, remote_path: str | None = None,
                 supported_mode: SchemaOpenMode = SchemaOpenMode.WRITE, downloader: Any = None,
                 dataframe: Any = None) -> None:
        warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
        self.dataframe = dataframe
        self.uri = remote_path or local_path
        self.file_format = SchemaFormat.PARQUET.value
        self.metadata = None
        self._open_as = None
        self._columns = None
        self._storage = None
        self.supported_mode = supported_mode

    def __class_getitem__(cls, params: Any) -> Any:
        """``FlyteSchema[columns]`` or ``FlyteSchema[columns, format]``: the type with those
        columns declared (the format is parquet whatever is given)."""
        columns = params[0] if isinstance(params, tuple) else params
        return Annotated[cls, dict(columns)] if columns else cls

    def open(self, dataframe_type: Any = None) -> FlyteSchema:
        """Open for reading (:meth:`all`) or, on a schema holding nothing yet, writing
        (:meth:`write`)."""
        super().open(dataframe_type)
        return self

    def write(self, dataframe: Any, **_: Any) -> None:
        """Hold ``dataframe``: it is what the task returns."""
        self.dataframe = dataframe

    def all(self, **_: Any) -> Any:
        if self.dataframe is None and self.uri is None:
            raise ValueError("this FlyteSchema holds no dataframe yet: write one with "
                             "schema.open().write(df)")
        return super().all()


__all__ = ["FlyteSchema", "SchemaFormat", "SchemaOpenMode"]
