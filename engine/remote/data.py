"""Values in and out of the admin API: Python inputs to JSON literals (raw data uploaded to
the blob store first), and stored inputs and outputs back to Python values.

The admin API holds values as the type engine's JSON literals; files and dataframes as
URIs in its blob store; values too large to keep inline as a reference to a JSON blob
(named in the reply's ``offloaded``). :class:`LiteralsResolver` turns them back into
Python values of the interface's types on first access: a dataframe output is read from
parquet only when asked for, a file is downloaded only when opened.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from engine.catalog.blob import BlobStore
from engine.catalog.literals import load_json
from engine.errors import InputValueError
from engine.types.interface import PythonInterface
from engine.types.model_transformer import python_value
from engine.types.type_engine import DataContext, TypeEngine

_MISSING = object()


class LiteralsResolver:
    """Inputs or outputs by name, as Python values, as flytekit's ``LiteralsResolver``.

    ``resolver["o0"]`` is the value as the interface types it; ``resolver.get("o0",
    as_type=T)`` reads it as another type; ``resolver.literals`` holds the JSON literals.
    A name whose type is not known (no interface) reads as its JSON value.
    """

    def __init__(self, literals: dict[str, Any], types: dict[str, Any], store: BlobStore,
                 offloaded: frozenset[str] = frozenset(), what: str = "values") -> None:
        self._literals = dict(literals)
        self._types = dict(types)
        self._store = store
        self._offloaded = offloaded
        self._what = what
        self._values: dict[str, Any] = {}

    @property
    def literals(self) -> dict[str, Any]:
        """The JSON literals by name (a reference for an offloaded value)."""
        return dict(self._literals)

    def get(self, name: str, as_type: Any = None) -> Any:
        """The value of ``name``, as ``as_type`` (default: the interface's type)."""
        if name not in self._literals:
            known = ", ".join(self._literals) or "none"
            raise KeyError(f"{self._what} have no '{name}'; they are: {known}")
        if as_type is None and name in self._values:
            return self._values[name]
        data = self._literals[name]
        if name in self._offloaded and isinstance(data, dict):
            data = load_json(data, self._store)
        python_type = as_type if as_type is not None else self._types.get(name, _MISSING)
        if python_type is _MISSING:
            return data
        # A flytekit-style type comes back from JSON as its literal: read it as the type.
        value = python_value(TypeEngine.from_json(
            data, python_type, DataContext(self._store, self._store.uri("tmp"))))
        if as_type is None:
            self._values[name] = value
        return value

    def as_python_native(self, interface: PythonInterface) -> Any:
        """The values packed as a call returns them: one value, a named tuple of several,
        None for none."""
        return interface.pack_outputs([self[name] for name in interface.outputs])

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._literals

    def __iter__(self) -> Iterator[str]:
        return iter(self._literals)

    def __len__(self) -> int:
        return len(self._literals)

    def keys(self) -> list[str]:
        return list(self._literals)

    def values(self) -> list[Any]:
        return [self[name] for name in self._literals]

    def items(self) -> list[tuple[str, Any]]:
        return [(name, self[name]) for name in self._literals]

    def __repr__(self) -> str:
        return f"LiteralsResolver({self._literals!r})"


def resolver(data: dict[str, Any] | None, key: str, types: dict[str, Any], store: BlobStore,
             what: str) -> LiteralsResolver:
    """The ``inputs`` or ``outputs`` (``key``) of a data reply of the admin API."""
    literals = (data or {}).get(key) or {}
    offloaded = frozenset(name.removeprefix(f"{key}.")
                          for name in (data or {}).get("offloaded") or ()
                          if name.startswith(f"{key}."))
    return LiteralsResolver(literals, types, store, offloaded, what)


def input_literals(values: dict[str, Any], interface: PythonInterface, store: BlobStore,
                   what: str, fixed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """JSON literals of the inputs of ``what`` (named in errors), type-checked first;
    files and dataframes uploaded to ``store``. Inputs left out must have a default;
    ``fixed`` ones cannot be given."""
    for name in values:
        if name in fixed:
            raise InputValueError(f"{what}: input '{name}' is fixed by the launch plan; it "
                                  "cannot be given")
        if name not in interface.inputs:
            raise InputValueError(f"{what}: unknown input '{name}'; it takes "
                                  f"{', '.join(interface.inputs) or 'no inputs'}")
    missing = [n for n in interface.inputs if n not in values and n not in interface.defaults]
    if missing:
        raise InputValueError(f"{what}: missing input(s) {', '.join(missing)}")
    for name, value in values.items():
        reason = TypeEngine.check(value, interface.inputs[name])
        if reason:
            raise InputValueError(f"{what}: input '{name}': {reason}")
    ctx = DataContext(store, store.uri("inputs", uuid.uuid4().hex[:16]))
    return {name: TypeEngine.to_json(value, interface.inputs[name], ctx)
            for name, value in values.items()}
