"""How values are hashed for the data catalog: ``HashMethod`` (as flytekit's) and the digests
the transformers build their content hashes from.

Invariant: these digests are part of every stored cache key; changing one makes every
existing catalog miss (``tests/engine/catalog/test_keys.py`` pins them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any


class HashMethod:
    """Put in ``Annotated[T, HashMethod(fn)]``: the cache key uses ``str(fn(value))``
    instead of the engine's content hash of the value."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def calculate(self, obj: Any) -> str:
        return str(self.function(obj))


def short_hash(data: bytes) -> str:
    """A 16-hex-digit SHA-256 prefix of ``data``."""
    return hashlib.sha256(data).hexdigest()[:16]


def json_hash(data: Any) -> str:
    """The hash of a JSON form, the same whatever the order of its objects' keys."""
    return short_hash(json.dumps(data, sort_keys=True).encode())


def parts_hash(parts: Iterable[str]) -> str:
    """The hash of a sequence of hashes (a container's elements, in order)."""
    return short_hash("|".join(parts).encode())


def update_with_file(digest: hashlib._Hash, path: str) -> None:
    """Feed the bytes of the file at ``path`` to ``digest``, a megabyte at a time."""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
