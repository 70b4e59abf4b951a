"""Extension points, as ``flytekit.extend``: register transformers for your own types,
write tasks as classes (``PythonTask`` with an ``Interface``), reach the context."""

from __future__ import annotations

from engine.core import context_manager
from engine.core.base_task import Interface, PythonTask, TaskMetadata
from engine.types.type_engine import TypeEngine, TypeTransformer

__all__ = [
    "Interface",
    "PythonTask",
    "TaskMetadata",
    "TypeEngine",
    "TypeTransformer",
    "context_manager",
]
