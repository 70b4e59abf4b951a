"""The fallback for Python types no transformer knows: values are pickled, opaquely."""

from __future__ import annotations

import base64
import warnings
from typing import Any

import cloudpickle

from engine.errors import OpaqueTypeWarning
from engine.types.builtin import hash_by_kind
from engine.types.literal import Kind, LiteralType
from engine.types.type_engine import DataContext, TypeTransformer, expect, type_name


class PickleTransformer(TypeTransformer[Any]):
    """Any other type: passed between tasks as the Python object, pickled when stored."""

    name = "pickle"

    def __init__(self) -> None:
        self._warned: set[str] = set()

    def matches(self, python_type: Any) -> bool:
        return True

    def get_literal_type(self, python_type: Any) -> LiteralType:
        name = _qualified_name(python_type)
        if name not in self._warned:
            self._warned.add(name)
            warnings.warn(
                f"type {name} is opaque to Flyray: its values are pickled, so they are not "
                "type-checked between tasks and cannot be read outside Python; register a "
                "TypeTransformer (engine.extend) to make it a first-class type",
                OpaqueTypeWarning,
                stacklevel=2,
            )
        return LiteralType(Kind.PICKLE, name=name)

    def check(self, value: Any, python_type: Any) -> str | None:
        if isinstance(python_type, type) and not isinstance(value, python_type):
            return f"expected {type_name(python_type)}, got {type(value).__name__}"
        return None

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        return {"pickle": base64.b64encode(cloudpickle.dumps(value)).decode("ascii")}

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        obj = expect(data, dict, "a pickled value")
        return cloudpickle.loads(base64.b64decode(expect(obj.get("pickle"), str, "base64")))

    def content_hash(self, value: Any, python_type: Any) -> str | None:
        """By the value's own kind (see :func:`hash_by_kind`); a plain value by its pickle."""
        return hash_by_kind(value, python_type)


def _qualified_name(python_type: Any) -> str:
    if isinstance(python_type, type):
        return f"{python_type.__module__}.{python_type.__qualname__}"
    return type_name(python_type)
