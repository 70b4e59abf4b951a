"""with_overrides(): requests, retries and timeout of one node, not of its task."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import task, workflow
from engine.dag.run.executor import run
from engine.dag.validate import load_workflow
from engine.errors import ConfigError, NodeFailedError, NotYetSupportedError
from tests.fixtures import override_wfs as wfs


@pytest.mark.usefixtures("ray_cluster")
def test_requests_apply_to_the_overridden_node_only() -> None:
    plain, bigger = wfs.resources()
    assert plain == {"CPU": 1.0}
    assert bigger == {"CPU": 2.0, "memory": float(200 * 2**20)}


@pytest.mark.usefixtures("ray_cluster")
def test_retries_override(tmp_path: Path) -> None:
    result = run(wfs.retried.compile(), {"directory": str(tmp_path)})
    assert result.outputs == "second attempt"
    assert len(result.record.nodes["n0"].attempts) == 2


@pytest.mark.usefixtures("ray_cluster")
def test_timeout_override_stops_the_node() -> None:
    with pytest.raises(NodeFailedError) as info:
        wfs.timed_out()
    assert "timeout of 1 s" in str(info.value)
    assert info.value.kind.value == "USER"


def test_overrides_are_part_of_the_spec() -> None:
    spec = wfs.resources.compile().spec
    assert spec.node("n0").overrides is None
    overrides = spec.node("n1").overrides
    assert overrides is not None and overrides.requests is not None
    assert overrides.requests.cpu == 2.0
    assert load_workflow(spec.to_json()) == spec


def test_bad_overrides_are_rejected_at_compile_time() -> None:
    @task
    def noop() -> int:
        return 1

    @workflow
    def negative() -> int:
        return noop().with_overrides(retries=-1)

    @workflow
    def later() -> int:
        return noop().with_overrides(cache=True)

    with pytest.raises(ConfigError, match="retries must be a whole number"):
        negative.compile()
    with pytest.raises(NotYetSupportedError, match="cache"):
        later.compile()
