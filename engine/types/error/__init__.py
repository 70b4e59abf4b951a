"""``FlyteError``, at flytekit's paths ``flytekit.types.error`` and
``flytekit.types.error.error``."""

from __future__ import annotations

from engine.types.error.error import FlyteError

__all__ = ["FlyteError"]
