"""``FlyteFile``, at flytekit's module path (not implemented yet)."""

from __future__ import annotations

from engine._later import LaterClass


class FlyteFile(LaterClass):
    feature = "FlyteFile"
