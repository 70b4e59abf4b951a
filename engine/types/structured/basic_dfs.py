"""The CSV handlers flytekit ships for pandas (``flytekit.types.structured.basic_dfs``);
:func:`engine.types.structured.register_csv_handlers` registers them."""

from __future__ import annotations

import os
from typing import Any

from engine.models import literals
from engine.models.types import StructuredDatasetType
from engine.types.structured.handlers import (
    CSV,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
)
from engine.types.structured.structured_dataset import StructuredDataset


def _data_frame_type() -> type:
    import pandas  # heavy: loaded when the CSV handlers are registered

    return pandas.DataFrame  # type: ignore[no-any-return]


class PandasToCSVEncodingHandler(StructuredDatasetEncoder):
    """Writes a pandas DataFrame as one CSV file in a directory, as flytekit's."""

    def __init__(self) -> None:
        super().__init__(_data_frame_type(), None, CSV)

    def encode(self, ctx: Any, structured_dataset: StructuredDataset,
               structured_dataset_type: StructuredDatasetType) -> literals.StructuredDataset:
        uri = structured_dataset.uri or ctx.file_access.get_random_remote_directory()
        local_dir = ctx.file_access.get_random_local_directory()
        structured_dataset.dataframe.to_csv(os.path.join(local_dir, "00000"), index=False)
        ctx.file_access.upload_directory(local_dir, uri)
        return literals.StructuredDataset(uri, literals.StructuredDatasetMetadata(
            StructuredDatasetType(structured_dataset_type.columns, CSV)))


class CSVToPandasDecodingHandler(StructuredDatasetDecoder):
    """Reads a directory of CSV files (or one file) as a pandas DataFrame, as flytekit's."""

    def __init__(self) -> None:
        super().__init__(_data_frame_type(), None, CSV)

    def decode(self, ctx: Any, flyte_value: literals.StructuredDataset,
               current_task_metadata: literals.StructuredDatasetMetadata) -> Any:
        import pandas  # heavy: loaded when a CSV dataset is read

        local_dir = ctx.file_access.get_random_local_directory()
        ctx.file_access.get_data(flyte_value.uri, local_dir, is_multipart=True)
        files = sorted(os.path.join(local_dir, f) for f in os.listdir(local_dir))
        sd_type = current_task_metadata.structured_dataset_type
        columns = [c.name for c in sd_type.columns] if sd_type and sd_type.columns else None
        return pandas.concat([pandas.read_csv(f, usecols=columns) for f in files],
                             ignore_index=True)
