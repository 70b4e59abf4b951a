"""Extension points, as ``flytekit.extend``: register transformers for your own types."""

from __future__ import annotations

from engine.types.type_engine import TypeEngine, TypeTransformer

__all__ = ["TypeEngine", "TypeTransformer"]
