"""Dataframes between tasks: flavours converted at the consumer, declared columns selected
on input and checked on output, buffers handed over zero-copy through Ray's object store."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import ray

from engine.dag.run.executor import ExecutionResult, run
from engine.errors import ErrorKind, NodeFailedError
from tests.fixtures import data_wfs

pytestmark = pytest.mark.usefixtures("ray_cluster")


def execute(wf: Any, **inputs: Any) -> ExecutionResult:
    return run(wf.compile(), wf.bind_inputs((), inputs))


def data_failure(wf: Any) -> NodeFailedError:
    with pytest.raises(NodeFailedError) as info:
        execute(wf)
    error = info.value
    assert error.kind is ErrorKind.USER
    assert error.cause.startswith("DataError: "), error.cause
    return error


# --- flavours --------------------------------------------------------------------------------


def test_pandas_becomes_arrow_and_back_at_the_consumer() -> None:
    as_arrow, as_pandas = execute(data_wfs.pandas_arrow_pandas).outputs
    assert as_arrow == "pyarrow.Table:a,b,c:6"
    assert as_pandas == "pandas.DataFrame:a,b,c:6"


def test_structured_dataset_is_consumed_as_pandas_and_as_dataset() -> None:
    as_pandas, as_dataset = execute(data_wfs.dataset_consumers).outputs
    assert as_pandas == "pandas.DataFrame:a,b,c:6"
    assert as_dataset == "StructuredDataset|pandas.DataFrame:a,b,c:6"


# --- declared columns ------------------------------------------------------------------------


def test_declared_input_columns_select_only_those() -> None:
    dataset, pandas, arrow = execute(data_wfs.column_subsets).outputs
    assert dataset == "pandas.DataFrame:a:6"
    assert pandas == "pandas.DataFrame:a,c:6"
    assert arrow == "pyarrow.Table:c,a:6"


def test_output_lacking_a_declared_column_fails_naming_it() -> None:
    error = data_failure(data_wfs.output_lacks_column)
    assert (error.node_id, error.task) == ("n0", data_wfs.lacks_z.name)
    for part in (f"task '{data_wfs.lacks_z.name}'", "node 'n0'", "output 'o0'",
                 "lacks declared column(s) ['z']", "it has ['a', 'b', 'c']"):
        assert part in error.cause, error.cause


def test_output_holding_every_declared_column_passes() -> None:
    assert execute(data_wfs.output_with_declared_columns).outputs == "pandas.DataFrame:a,b,c:6"


def test_output_column_of_the_wrong_kind_fails() -> None:
    error = data_failure(data_wfs.output_column_of_wrong_kind)
    for part in (f"task '{data_wfs.str_where_int.name}'", "node 'n0'", "output 'o0'"):
        assert part in error.cause, error.cause
    # pandas' strings become Arrow string or large_string, by pandas version.
    assert re.search(r"column 'c' holds (large_)?string, declared int", error.cause), error.cause


def test_input_declaring_a_column_upstream_lacks_fails_naming_the_input() -> None:
    error = data_failure(data_wfs.input_lacks_column)
    assert error.task == data_wfs.wants_z.name
    for part in (f"task '{data_wfs.wants_z.name}'", f"node '{error.node_id}'", "input 'df'",
                 "lacks declared column(s) ['z']", "it has ['a', 'b', 'c']"):
        assert part in error.cause, error.cause


# --- zero-copy -------------------------------------------------------------------------------


def test_arrow_table_is_read_in_place_from_the_object_store() -> None:
    mutable, mapping = execute(data_wfs.arrow_hand_off).outputs
    assert data_wfs.in_object_store(mapping), mapping
    assert mutable is False


def test_pandas_column_is_read_in_place_from_the_object_store() -> None:
    writeable, mapping = execute(data_wfs.pandas_hand_off).outputs
    assert data_wfs.in_object_store(mapping), mapping
    assert writeable is False


def test_the_object_store_check_tells_local_memory_from_the_store() -> None:
    local = np.arange(data_wfs.ZERO_COPY_ROWS, dtype=np.int64)
    table = pa.table({"n": local})
    from_store = ray.get(ray.put(local))

    for address in (local.__array_interface__["data"][0],
                    table.column(0).chunk(0).buffers()[1].address):
        mapping = data_wfs.mapping_of(address)
        assert mapping, "every live buffer lies in some mapping"
        assert not data_wfs.in_object_store(mapping), mapping
    stored = data_wfs.mapping_of(from_store.__array_interface__["data"][0])
    assert data_wfs.in_object_store(stored), stored
    assert from_store.flags.writeable is False
