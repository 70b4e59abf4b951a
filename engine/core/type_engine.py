"""flytekit's path to the type engine (``flytekit.core.type_engine``); it lives in
:mod:`engine.types.type_engine`."""

from __future__ import annotations

from engine.types.type_engine import BatchSize, DataContext, TypeEngine, TypeTransformer

__all__ = ["BatchSize", "DataContext", "TypeEngine", "TypeTransformer"]
