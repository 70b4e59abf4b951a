"""The type engine: maps Python types to literal types and checks and converts values.

Values travel between nodes as Python objects through Ray's object store; the type
engine works at the edges: it describes interfaces, checks values against them,
turns constants, defaults and CLI input to and from JSON, hashes values by content
for the catalog's cache keys, and, at a task's boundary inside its worker, prepares
inputs (downloads files lazily, converts dataframe flavours, selects declared
columns) and outputs (uploads files the task wrote, checks declared columns).

Transformers for the built-in types live in :mod:`engine.types.builtin`, for
files, directories and dataframes in :mod:`engine.types`; they register on import
of the ``engine`` package. A type no transformer knows is pickled.
"""

from __future__ import annotations

import contextlib
import tempfile
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from engine.catalog.blob import BlobStore
from engine.errors import InterfaceError
from engine.models.literals import Literal
from engine.models.types import LiteralType as ModelLiteralType
from engine.types import registrations
from engine.types.hashing import HashMethod, json_hash
from engine.types.literal import NONE, LiteralType

T = TypeVar("T")


@dataclass(frozen=True)
class BatchSize:
    """flytekit's marker ``Annotated[T, BatchSize(n)]``: move the parts of a directory or
    the items of a list in batches of ``val``. Accepted as flytekit accepts it: the type
    and the values are those of ``T``; the engine transfers a directory's files one
    directory at a time and passes a list between tasks whole, so there is nothing to
    batch."""

    val: int

    def __post_init__(self) -> None:
        if isinstance(self.val, bool) or not isinstance(self.val, int) or self.val < 1:
            raise InterfaceError(f"BatchSize({self.val!r}): give a positive number of items")


@dataclass(frozen=True)
class DataContext:
    """Where a boundary conversion may read and write blobs.

    Attributes:
        store: the blob store.
        prefix: URI prefix under which new blobs of this node attempt are written.
        workdir: local directory for downloads.
    """

    store: BlobStore
    prefix: str
    workdir: Path = Path(tempfile.gettempdir()) / "flyray-downloads"


class TypeTransformer(Generic[T]):
    """Knows one family of Python types. Subclass and register for user types.

    Two ways to write one. The engine's own way: override :meth:`matches`, :meth:`check`,
    :meth:`to_json`, :meth:`from_json` (and the boundary methods for raw data). ``check``
    returns a reason string instead of raising, so that callers can add context (which
    input of which task) to the message; ``where`` arguments name the value in messages
    ("task 'x', node 'n1', input 'df'"). Or flytekit's way: call
    ``super().__init__(name, t)`` and override :meth:`get_literal_type` (returning an
    :class:`engine.models.types.LiteralType`), :meth:`to_literal` and
    :meth:`to_python_value` against :mod:`engine.models.literals`; :meth:`TypeEngine.register`
    adapts such a transformer (see :mod:`engine.types.model_transformer`).
    """

    name: str = "transformer"
    # Whether methods receive ``Annotated[T, ...]`` whole (True) or just ``T``.
    uses_annotations: bool = False
    # flytekit's way: the Python type handled, and whether values are checked against it.
    _python_type: Any = None
    type_assertions_enabled: bool = True

    def __init__(self, name: str | None = None, t: type[T] | None = None,
                 enable_type_assertions: bool = True, hash_overridable: bool = False) -> None:
        """flytekit's constructor (``hash_overridable`` is accepted and has no effect: any
        type's hash may be overridden here, with ``Annotated[T, HashMethod(fn)]``)."""
        if name is not None:
            self.name = name
        self._python_type = t
        self.type_assertions_enabled = enable_type_assertions

    @property
    def python_type(self) -> Any:
        """The Python type given to the constructor (flytekit's way)."""
        return self._python_type

    def assert_type(self, t: Any, v: Any) -> None:
        """flytekit's check: raise TypeError unless ``v`` is a ``t``."""
        if isinstance(t, type) and not isinstance(v, t):
            raise TypeError(f"expected a value of type {type_name(t)}, got "
                            f"{type(v).__name__} {short_repr(v)}")

    def to_literal(self, ctx: Any, python_val: T, python_type: Any,
                   expected: ModelLiteralType) -> Literal:
        """flytekit's way: the literal of ``python_val``, its raw data written through
        ``ctx.file_access``."""
        raise NotImplementedError

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> T:
        """flytekit's way: the Python value of the literal ``lv``."""
        raise NotImplementedError

    def guess_python_type(self, literal_type: ModelLiteralType) -> Any:
        """flytekit's way: the Python type of a literal type, if this transformer makes it."""
        raise ValueError(f"transformer {self.name} cannot guess a Python type from "
                         f"{literal_type}")

    def matches(self, python_type: Any) -> bool:
        """Whether this transformer handles ``python_type``."""
        raise NotImplementedError

    def get_literal_type(self, python_type: Any) -> Any:
        """The engine's :class:`LiteralType` (or, flytekit's way, the model's) of the type."""
        raise NotImplementedError

    def check(self, value: Any, python_type: Any) -> str | None:
        """Why ``value`` is not a valid ``python_type``, or None when it is."""
        raise NotImplementedError

    def to_json(self, value: T, python_type: Any, ctx: DataContext | None = None) -> Any:
        """A JSON-compatible form of a valid value. With ``ctx``, raw data (files,
        dataframes) is written to the blob store and referred to by URI."""
        raise NotImplementedError

    def from_json(self, data: Any, python_type: Any, ctx: DataContext | None = None) -> T:
        """The Python value for JSON data; raises ValueError/TypeError on bad data."""
        raise NotImplementedError

    def has_boundary(self, python_type: Any) -> bool:
        """Whether :meth:`to_task_input` / :meth:`from_task_output` do anything."""
        return False

    def content_hash(self, value: T, python_type: Any) -> str | None:
        """What the catalog's cache keys hash of a valid, non-None value: equal content,
        equal hash, whichever execution produced it.

        None (the default) means that the value's JSON form (:meth:`to_json` without a
        data context) identifies it, as for plain values; the type engine then hashes
        that. Types whose JSON form is only a reference override it: files and
        dataframes hash their bytes, containers their elements.
        """
        return None

    def to_task_input(self, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        """The value a task receives for an input of ``python_type``."""
        return value

    def from_task_output(self, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        """The value that leaves a task's worker for an output of ``python_type``."""
        return value


class TypeEngine:
    """The registry of transformers; user types plug in with :meth:`register`."""

    _transformers: ClassVar[list[TypeTransformer[Any]]] = []
    # Used for any type no registered transformer matches (set by engine.types.pickle).
    fallback: ClassVar[TypeTransformer[Any] | None] = None

    # _resolve's answers by type: it runs for every value at every task boundary.
    _resolved: ClassVar[dict[Any, tuple[TypeTransformer[Any], Any]]] = {}

    # Adapts a transformer written flytekit's way (set by engine.types, with the adapter).
    model_adapter: ClassVar[Callable[[TypeTransformer[Any], tuple[Any, ...]],
                                     TypeTransformer[Any]] | None] = None

    @classmethod
    def register(cls, transformer: TypeTransformer[Any],
                 additional_types: list[Any] | None = None) -> None:
        """Add a transformer; later registrations win over earlier ones.

        One written flytekit's way (it overrides :meth:`TypeTransformer.to_literal`) is
        registered adapted, for its ``python_type`` and ``additional_types``, and is
        carried to the workers of tasks (see :mod:`engine.types.registrations`).
        """
        if type(transformer).to_literal is not TypeTransformer.to_literal:
            if cls.model_adapter is None:  # engine.types sets it on import: cannot happen
                raise InterfaceError("the type engine was imported without engine.types")
            registrations.record(cls.register, transformer, additional_types)
            types = (transformer.python_type, *(additional_types or ()))
            transformer = cls.model_adapter(transformer, types)
        cls._transformers.insert(0, transformer)
        cls._resolved.clear()

    @classmethod
    def get_transformer(cls, python_type: Any) -> TypeTransformer[Any]:
        base, _ = annotated_parts(python_type)
        for t in cls._transformers:
            if t.matches(base):
                return t
        if cls.fallback is None:
            raise InterfaceError(f"type {type_name(python_type)} is not supported")
        return cls.fallback

    @classmethod
    def _resolve(cls, python_type: Any) -> tuple[TypeTransformer[Any], Any]:
        """The transformer of a type and the type to hand it (Annotated stripped or not)."""
        try:
            return cls._resolved[python_type]
        except (KeyError, TypeError):  # not seen yet, or a type that cannot be hashed
            pass
        base, meta = annotated_parts(python_type)
        transformer = cls.get_transformer(base)
        resolved = (transformer, base if meta and not transformer.uses_annotations
                    else python_type)
        with contextlib.suppress(TypeError):
            cls._resolved[python_type] = resolved
        return resolved

    @classmethod
    def to_literal_type(cls, python_type: Any) -> LiteralType:
        if _is_none(python_type):
            return NONE
        t, py = cls._resolve(python_type)
        literal_type: LiteralType = t.get_literal_type(py)  # the engine's, once registered
        return literal_type

    @classmethod
    def check(cls, value: Any, python_type: Any) -> str | None:
        if _is_none(python_type):
            return None if value is None else f"expected None, got {type(value).__name__}"
        t, py = cls._resolve(python_type)
        return t.check(value, py)

    @classmethod
    def to_json(cls, value: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        if value is None:
            return None
        t, py = cls._resolve(python_type)
        return t.to_json(value, py, ctx)

    @classmethod
    def from_json(cls, data: Any, python_type: Any, ctx: DataContext | None = None) -> Any:
        if _is_none(python_type):
            return expect(data, type(None), "null")
        t, py = cls._resolve(python_type)
        return t.from_json(data, py, ctx)

    @classmethod
    def has_boundary(cls, python_type: Any) -> bool:
        if _is_none(python_type):
            return False
        t, py = cls._resolve(python_type)
        return t.has_boundary(py)

    @classmethod
    def content_hash(cls, value: Any, python_type: Any) -> str:
        """The content hash of ``value`` for cache keys, asked of the transformer of
        ``python_type``; ``Annotated[T, HashMethod(fn)]`` overrides it."""
        for meta in annotated_parts(python_type)[1]:
            if isinstance(meta, HashMethod):
                return "custom:" + meta.calculate(value)
        if value is None:
            return json_hash(None)
        t, py = cls._resolve(python_type)
        own = t.content_hash(value, py)
        return own if own is not None else json_hash(t.to_json(value, py))

    @classmethod
    def to_task_input(cls, value: Any, python_type: Any, ctx: DataContext, where: str) -> Any:
        if value is None or not cls.has_boundary(python_type):
            return value
        t, py = cls._resolve(python_type)
        return t.to_task_input(value, py, ctx, where)

    @classmethod
    def from_task_output(cls, value: Any, python_type: Any, ctx: DataContext,
                         where: str) -> Any:
        if value is None or not cls.has_boundary(python_type):
            return value
        t, py = cls._resolve(python_type)
        return t.from_task_output(value, py, ctx, where)


def _is_none(python_type: Any) -> bool:
    return python_type is None or python_type is type(None)


def expect(data: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    """``data`` if it is of ``kinds``, else a TypeError saying ``what`` was expected."""
    if not isinstance(data, kinds):
        raise TypeError(f"expected {what}, got {short_repr(data)}")
    return data


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(python_type: Any) -> str:
    if isinstance(python_type, type) and not typing.get_args(python_type):
        return python_type.__name__
    return str(python_type).replace("typing.", "")


def annotated_parts(python_type: Any) -> tuple[Any, tuple[Any, ...]]:
    """The base type and the metadata of ``Annotated[base, *metadata]`` (else no metadata)."""
    if typing.get_origin(python_type) is Annotated:
        base, *meta = typing.get_args(python_type)
        return base, tuple(meta)
    return python_type, ()


def container_item_type(python_type: Any, origin: type) -> Any | None:
    """Element type of a ``list[T]`` (origin list) or ``dict[str, T]`` (origin dict),
    looking inside Optional/Union; None when ``python_type`` has no such form."""
    for t in (python_type, *typing.get_args(python_type)):
        if typing.get_origin(t) is origin:
            return typing.get_args(t)[-1]
    return None
