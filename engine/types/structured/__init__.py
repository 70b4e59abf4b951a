"""Dataframes, at flytekit's path ``flytekit.types.structured``: the structured dataset type
(:mod:`~engine.types.structured.structured_dataset`), its encoder and decoder registry
(:mod:`~engine.types.structured.handlers`) and the CSV handlers flytekit ships
(:func:`register_csv_handlers`)."""

from __future__ import annotations

from engine.types.structured.basic_dfs import CSVToPandasDecodingHandler, PandasToCSVEncodingHandler
from engine.types.structured.handlers import StructuredDatasetTransformerEngine
from engine.types.structured.structured_dataset import (
    CSV,
    PARQUET,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredTransformer,
    column_mismatch,
    column_names,
    convert,
    declared_columns,
    flavour,
    select_columns,
)


def register_csv_handlers() -> None:
    """Have pandas dataframes written and read as CSV where an output asks for CSV
    (``Annotated[pd.DataFrame, CSV]``), and by default, as flytekit's."""
    StructuredDatasetTransformerEngine.register(PandasToCSVEncodingHandler(),
                                                default_format_for_type=True)
    StructuredDatasetTransformerEngine.register(CSVToPandasDecodingHandler(),
                                                default_format_for_type=True)


__all__ = ["CSV", "PARQUET", "StructuredDataset", "StructuredDatasetDecoder",
           "StructuredDatasetEncoder", "StructuredDatasetTransformerEngine",
           "StructuredTransformer", "column_mismatch", "column_names", "convert",
           "declared_columns", "flavour", "register_csv_handlers", "select_columns"]
