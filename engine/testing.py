"""Test helpers, as ``flytekit.testing`` (not implemented yet)."""

from __future__ import annotations

from engine._later import later_function

task_mock = later_function("engine.testing.task_mock()")
patch = later_function("engine.testing.patch()")
