"""Types with engine-specific handling: files, directories, dataframes, the pickle fallback.

Importing this package registers every transformer with the type engine; the
``engine`` package does so on import.
"""

from __future__ import annotations

from engine.types._blob import BlobTransformer
from engine.types.builtin import register_builtin_types
from engine.types.directory import FlyteDirectory
from engine.types.file import FlyteFile
from engine.types.pickle import PickleTransformer
from engine.types.structured import StructuredDataset, StructuredTransformer
from engine.types.type_engine import TypeEngine

register_builtin_types()
TypeEngine.register(BlobTransformer(FlyteFile))
TypeEngine.register(BlobTransformer(FlyteDirectory))
TypeEngine.register(StructuredTransformer())
TypeEngine.fallback = PickleTransformer()

__all__ = ["FlyteDirectory", "FlyteFile", "StructuredDataset"]
