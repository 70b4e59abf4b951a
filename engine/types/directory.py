"""``FlyteDirectory``, at flytekit's module path (not implemented yet)."""

from __future__ import annotations

from engine._later import LaterClass


class FlyteDirectory(LaterClass):
    feature = "FlyteDirectory"
