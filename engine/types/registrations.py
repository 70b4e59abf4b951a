"""User registrations of type handlers, carried to the processes that run tasks.

A task's function reaches its worker pickled by value (it is not the module attribute its
decorator returned), so the worker never runs the module that registered a
flytekit-style ``TypeTransformer`` or a dataframe encoder or decoder. Each such
registration is recorded here; every :class:`~engine.types.interface.PythonInterface`
carries the record when pickled and replays it where it is unpickled, once per handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Entry = tuple[Callable[..., None], tuple[Any, ...]]

_ENTRIES: list[Entry] = []
# Keys of the entries this process has applied (see _key), recorded or replayed.
_APPLIED: set[tuple[Any, ...]] = set()


def _key(entry: Entry) -> tuple[Any, ...]:
    """What identifies a registration across processes, where its objects are copies."""
    register, args = entry
    handler = args[0]
    return (register.__qualname__, type(handler).__module__, type(handler).__qualname__,
            getattr(handler, "python_type", None), getattr(handler, "protocol", None),
            getattr(handler, "supported_format", None))


def record(register: Callable[..., None], *args: Any) -> None:
    """Note that ``register(*args)`` was called here, to be replayed elsewhere."""
    entry = (register, args)
    key = _key(entry)
    if key not in _APPLIED:
        _APPLIED.add(key)
        _ENTRIES.append(entry)


def snapshot() -> tuple[Entry, ...]:
    return tuple(_ENTRIES)


def replay(entries: tuple[Entry, ...]) -> None:
    """Call the registrations of another process that this one has not applied."""
    for entry in entries:
        if _key(entry) not in _APPLIED:
            register, args = entry
            register(*args)  # records it, as any registration
