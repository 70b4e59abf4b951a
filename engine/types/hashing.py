"""``HashMethod``: how a value is hashed for the data catalog, as flytekit's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class HashMethod:
    """Put in ``Annotated[T, HashMethod(fn)]``: the cache key uses ``str(fn(value))``
    instead of the engine's content hash of the value."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def calculate(self, obj: Any) -> str:
        return str(self.function(obj))
