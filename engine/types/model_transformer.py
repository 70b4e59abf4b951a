"""Transformers written flytekit's way, against the literal model, as engine transformers.

Such a transformer turns a value into a :class:`~engine.models.literals.Literal` (uploading
its raw data through ``ctx.file_access``) and back. Values still travel between nodes
through Ray's object store, but for these types what travels is the literal, wrapped in a
:class:`LiteralValue`: the producing task's worker makes it when the value leaves the task
(:meth:`ModelTransformer.from_task_output`), and each task that takes it as input turns it
back into the user's type (:meth:`ModelTransformer.to_task_input`), in its own worker, as
flytekit does in each task's container. Stored, the literal is the engine's JSON form of
its literal type (:mod:`engine.types.model_bridge`); the catalog's cache keys hash that form,
or the literal's ``hash`` when the transformer sets one.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.catalog.blob import BlobStore, StorageConfig
from engine.models.literals import Literal
from engine.types import model_bridge
from engine.types.file_access import FileAccessProvider
from engine.types.literal import Kind, LiteralType, holds_blob
from engine.types.type_engine import DataContext, TypeEngine, TypeTransformer, type_name


@dataclass(frozen=True)
class TransformerContext:
    """What a flytekit-style transformer receives as ``ctx``: flytekit's ``FlyteContext``
    as such transformers use it (``ctx.file_access``)."""

    file_access: FileAccessProvider


@dataclass(frozen=True)
class LiteralValue:
    """A value of a flytekit-style type on its way between tasks: its literal.

    Attributes:
        literal: what the transformer made of the value.
        python_type: the type it was made from; its transformer reads it back.
        storage: the blob store its raw data is in, to read it back outside a task (the
            outputs a workflow call returns); None when it came from JSON with no store.
    """

    literal: Literal
    python_type: Any
    storage: StorageConfig | None = None


class ModelTransformer(TypeTransformer[Any]):
    """The engine's face of a transformer written flytekit's way (``inner``)."""

    def __init__(self, inner: TypeTransformer[Any], python_types: tuple[Any, ...]) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.python_types = python_types

    def matches(self, python_type: Any) -> bool:
        """Its types and, as in flytekit, their subclasses."""
        return python_type in self.python_types or isinstance(python_type, type) and any(
            isinstance(t, type) and issubclass(python_type, t) for t in self.python_types)

    def _where(self) -> str:
        return f"TypeTransformer '{self.name}'"

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """The engine's form of the transformer's literal type; a blob is named after the
        Python type, for messages."""
        literal_type = model_bridge.engine_type(self.inner.get_literal_type(python_type),
                                                self._where())
        if literal_type.kind is Kind.BLOB:
            return dataclasses.replace(literal_type, name=type_name(python_type))
        return literal_type

    def check(self, value: Any, python_type: Any) -> str | None:
        if isinstance(value, LiteralValue) or not self.inner.type_assertions_enabled:
            return None
        try:
            self.inner.assert_type(python_type, value)
        except (TypeError, ValueError, AssertionError) as e:
            return str(e) or f"expected {type_name(python_type)}, got {type(value).__name__}"
        return None

    def has_boundary(self, python_type: Any) -> bool:
        return True

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        """The literal of a value a task returned, its raw data written under the attempt's
        prefix by the transformer."""
        if isinstance(value, LiteralValue):
            return value
        return LiteralValue(self._to_literal(value, python_type, ctx, where), python_type,
                            ctx.store.config)

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        """The value a task receives: the transformer's reading of the literal, its raw data
        read into the attempt's scratch directory."""
        if not isinstance(value, LiteralValue):
            return value  # a value of the type itself, given by the caller
        return self.inner.to_python_value(_context(ctx), value.literal, python_type)

    def to_json(self, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        literal_type = self.get_literal_type(python_type)
        if isinstance(value, LiteralValue):
            return model_bridge.to_json(value.literal, literal_type, self._where())
        if ctx is None:
            if holds_blob(literal_type) or literal_type.kind is Kind.DATAFRAME:
                raise TypeError(f"a {type_name(python_type)} is stored by {self._where()} in "
                                "the blob store, so it has no JSON form here: pass it as an "
                                "input at run time or produce it in a task, not as a constant")
            ctx = _scratch()
        literal = self._to_literal(value, python_type, ctx, self._where())
        return model_bridge.to_json(literal, literal_type, self._where())

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        """The literal of stored data, read back by the task that takes it (or by
        :func:`python_value` for a caller)."""
        literal_type = self.get_literal_type(python_type)
        literal = model_bridge.from_json(data, literal_type, self._where())
        return LiteralValue(literal, python_type, ctx.store.config if ctx else None)

    def content_hash(self, value: Any, python_type: Any) -> str | None:
        """The literal's ``hash`` when the transformer set one, else its JSON form."""
        if isinstance(value, LiteralValue) and value.literal.hash:
            return "literal:" + value.literal.hash
        return None  # the JSON form of the literal (to_json), as for plain values

    def _to_literal(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Literal:
        expected = model_bridge.model_type(self.get_literal_type(python_type))
        literal = self.inner.to_literal(_context(ctx), value, python_type, expected)
        if not isinstance(literal, Literal):
            raise TypeError(f"{where}: {self._where()}.to_literal returned "
                            f"{type(literal).__name__}; return an engine.models.literals.Literal")
        return literal


def python_value(value: Any) -> Any:
    """``value`` as the caller of a workflow receives it: a :class:`LiteralValue` read back
    by its transformer (its raw data fetched into a temporary directory); lists and dicts
    of them likewise; anything else as is."""
    if isinstance(value, LiteralValue):
        transformer = TypeEngine.get_transformer(value.python_type)
        assert isinstance(transformer, ModelTransformer)  # only it makes LiteralValues
        store = BlobStore(value.storage or _scratch().store.config)
        ctx = DataContext(store, store.uri("tmp"))
        return transformer.inner.to_python_value(_context(ctx), value.literal, value.python_type)
    if isinstance(value, list):
        return [python_value(v) for v in value]
    if isinstance(value, dict):
        return {k: python_value(v) for k, v in value.items()}
    return value


def _context(ctx: DataContext) -> TransformerContext:
    return TransformerContext(FileAccessProvider(ctx))


def _scratch() -> DataContext:
    """Where a transformer may write when a value is converted outside any execution
    (a constant of a simple literal type): a local temporary directory."""
    root = Path(tempfile.gettempdir()) / "flyray-literals"
    store = BlobStore(StorageConfig(root=root.as_uri()))
    return DataContext(store, store.uri("scratch"), root / "local")
