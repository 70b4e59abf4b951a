"""flytekit's module paths of the type system resolve to the engine's objects, and the
``BatchSize`` marker is accepted as flytekit accepts it."""

from __future__ import annotations

from typing import Annotated

import pytest

from engine.errors import InterfaceError
from engine.types.directory import FlyteDirectory
from engine.types.type_engine import TypeEngine


def test_flytekit_paths_import() -> None:
    from engine.core.type_engine import BatchSize
    from engine.core.type_engine import TypeEngine as CoreTypeEngine
    from engine.extend import TypeEngine as ExtendTypeEngine
    from engine.extend import TypeTransformer
    from engine.models.core.types import BlobType
    from engine.models.literals import StructuredDatasetMetadata
    from engine.models.types import LiteralType, SimpleType, StructuredDatasetType
    from engine.types.error import FlyteError as ShortError
    from engine.types.error.error import FlyteError
    from engine.types.schema import FlyteSchema
    from engine.types.structured import StructuredDataset, register_csv_handlers
    from engine.types.structured.structured_dataset import (
        CSV,
        PARQUET,
        StructuredDatasetDecoder,
        StructuredDatasetEncoder,
        StructuredDatasetTransformerEngine,
    )

    assert CoreTypeEngine is ExtendTypeEngine is TypeEngine
    assert FlyteError is ShortError
    assert issubclass(FlyteSchema, StructuredDataset)
    assert (CSV, PARQUET) == ("csv", "parquet")
    assert BlobType.BlobDimensionality.MULTIPART == 1
    assert LiteralType(simple=SimpleType.INTEGER).simple == 1
    assert StructuredDatasetMetadata(StructuredDatasetType(format=CSV)).structured_dataset_type
    assert all(callable(x) for x in (BatchSize, TypeTransformer, register_csv_handlers,
                                     StructuredDatasetEncoder, StructuredDatasetDecoder,
                                     StructuredDatasetTransformerEngine.register))


def test_batch_size_leaves_the_type_as_it_is() -> None:
    from engine.core.type_engine import BatchSize

    batched = Annotated[FlyteDirectory, BatchSize(10)]
    assert TypeEngine.to_literal_type(batched) == TypeEngine.to_literal_type(FlyteDirectory)
    assert TypeEngine.to_literal_type(Annotated[list[int], BatchSize(2)]) == \
        TypeEngine.to_literal_type(list[int])


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_batch_size_must_be_a_positive_count(size: object) -> None:
    from engine.core.type_engine import BatchSize

    with pytest.raises(InterfaceError, match="positive number"):
        BatchSize(size)  # type: ignore[arg-type]
