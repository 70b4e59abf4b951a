"""Every fault scenario's smoke variant, each ending with the "nothing lost" checker
(the full variants: ``python -m benchmarks.chaos``)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.chaos.environment import ChaosEnv
from tests.chaos.registry import scenario_modules

pytestmark = [pytest.mark.fresh_cluster, pytest.mark.chaos]


@pytest.mark.parametrize("scenario", [
    pytest.param(module, id=module.SCENARIO, marks=pytest.mark.timeout(module.SMOKE_TIMEOUT_S))
    for module in scenario_modules()])
def test_scenario_smoke(chaos_env: ChaosEnv, scenario: ModuleType) -> None:
    result = scenario.run(chaos_env, full=False)
    assert result.survived, (f"{result.scenario} {result.title}: invariants broken:\n"
                             + "\n".join(result.verdict.violations))
