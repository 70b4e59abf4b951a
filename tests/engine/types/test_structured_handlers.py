"""Custom dataframe encoders and decoders, as flytekit documents them (numpy arrays stored as
parquet), and the CSV handlers: registered for (type, protocol, format), used where a task
returns or opens that type in that format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.dag.run.executor import ExecutionResult, run
from engine.errors import NodeFailedError
from engine.types.structured import StructuredDataset, register_csv_handlers
from engine.types.structured.handlers import StructuredDatasetTransformerEngine
from engine.types.structured.structured_dataset import CSV
from tests.fixtures import structured_wfs as wfs

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.timeout(120)]


def execute(wf: Any, **inputs: Any) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs))


def test_a_custom_encoder_and_decoder_carry_numpy_arrays_between_tasks() -> None:
    assert execute(wfs.numpy_wf).outputs == 66.0


def test_csv_handlers_write_and_read_a_pandas_dataframe_as_csv() -> None:
    where, rows = execute(wfs.csv_wf).outputs

    fmt, uri = where.split("@", 1)
    assert fmt == CSV
    [stored] = [p for p in Path(uri.removeprefix("file://")).iterdir()
                if not p.name.startswith(".")]
    assert stored.read_text().splitlines() == ["name,n", "x,1", "y,2"]
    assert rows == ["x=1", "y=2"]


def test_a_format_no_encoder_writes_fails_the_task_naming_it() -> None:
    with pytest.raises(NodeFailedError) as info:
        execute(wfs.unregistered_wf)
    assert "no encoder writes DataFrame as tsv" in str(info.value)


def test_registering_another_handler_for_the_same_key_needs_override() -> None:
    class Other(wfs.NumpyEncodingHandler):
        pass

    import numpy as np

    with pytest.raises(TypeError, match="override=True"):
        StructuredDatasetTransformerEngine.register(Other(np.ndarray, None, "parquet"))
    register_csv_handlers()  # the same handlers again: no error


def test_a_stored_csv_dataset_opens_as_pandas(tmp_path: Path) -> None:
    (tmp_path / "00000").write_text("a,b\n1,2\n3,4\n")
    sd = StructuredDataset(uri=tmp_path.as_uri(), file_format=CSV)
    import pandas as pd

    assert sd.open(pd.DataFrame).all()["b"].tolist() == [2, 4]
