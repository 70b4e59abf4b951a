"""``ShellTask`` at flytekit's module path (not implemented yet)."""

from __future__ import annotations

from engine._later import LaterClass


class ShellTask(LaterClass):
    feature = "ShellTask"


class OutputLocation(LaterClass):
    feature = "OutputLocation (ShellTask outputs)"
