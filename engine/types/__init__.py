"""Types with engine-specific handling: files, directories, dataframes, the pickle fallback.

Importing this package registers every transformer with the type engine. Python runs this
file before any module of the package, so whatever converts values (it imports
``engine.types.type_engine`` for :class:`TypeEngine`) finds them registered, whichever
module a process imports first: a worker, the CLI, the control plane. For that, this
package imports nothing of the engine but the leaf modules :mod:`engine.errors` and
:mod:`engine.catalog.blob`, and no heavy library (fsspec, pandas and pyarrow are imported
when a value is converted).
"""

from __future__ import annotations

from engine.types._blob import BlobTransformer
from engine.types.builtin import register_builtin_types
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from engine.types.model_transformer import ModelTransformer
from engine.types.pickle import PickleTransformer
from engine.types.structured import StructuredDataset, StructuredTransformer
from engine.types.type_engine import TypeEngine

register_builtin_types()
TypeEngine.register(BlobTransformer(FlyteFile))
TypeEngine.register(BlobTransformer(FlyteDirectory))
TypeEngine.register(StructuredTransformer())
TypeEngine.fallback = PickleTransformer()
TypeEngine.model_adapter = ModelTransformer

__all__ = ["FlyteDirectory", "FlyteFile", "StructuredDataset"]
