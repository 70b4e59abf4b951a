"""The scenarios: every module ``tests/chaos/scenarios/fNN_*.py``, found by name.

Each module defines ``SCENARIO`` ("F1"), ``TITLE``, ``SMOKE_TIMEOUT_S`` (the CI variant's
limit) and ``run(env: ChaosEnv, full: bool) -> ScenarioResult``: the smoke variant with
``full=False`` (CI), the full one for ``python -m benchmarks.chaos``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

from tests.chaos import scenarios


def scenario_modules() -> list[ModuleType]:
    """The scenario modules in order of their number."""
    names = sorted(m.name for m in pkgutil.iter_modules(scenarios.__path__)
                    if re.fullmatch(r"f\d\d_\w+", m.name))
    return [importlib.import_module(f"{scenarios.__name__}.{name}") for name in names]
