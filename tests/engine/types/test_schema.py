"""FlyteSchema, flytekit's deprecated dataframe type, as a structured dataset with declared
columns: the way flytekit documents it runs, and it warns of its deprecation."""

from __future__ import annotations

import pytest

from engine import kwtypes
from engine.types.literal import Kind
from engine.types.schema import FlyteSchema
from engine.types.type_engine import TypeEngine
from tests.fixtures import schema_wfs

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.timeout(120)]


def test_a_schema_returned_or_written_is_read_with_its_declared_columns() -> None:
    assert schema_wfs.schema_wf() == ("1a,2b ['x', 'y']", "3c ['x', 'y']")


def test_a_schema_type_is_a_dataframe_with_its_columns() -> None:
    literal_type = TypeEngine.to_literal_type(FlyteSchema[kwtypes(x=int, y=str)])
    assert literal_type.kind is Kind.DATAFRAME
    assert [name for name, _ in literal_type.fields] == ["x", "y"]


def test_making_a_schema_warns_that_it_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="use StructuredDataset"):
        FlyteSchema()


def test_reading_a_schema_holding_nothing_says_how_to_fill_it() -> None:
    with pytest.warns(DeprecationWarning):
        schema = FlyteSchema()
    with pytest.raises(ValueError, match=r"open\(\).write\(df\)"):
        schema.open().all()
