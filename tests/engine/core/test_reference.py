"""reference_task: typed at compile time; running one says it is not registered."""

from __future__ import annotations

import pytest

from engine import reference_task, task, workflow
from engine.errors import BindingError, NodeFailedError


@reference_task(project="flytesnacks", domain="development", name="remote.count",
                version="v1")
def count(text: str) -> int:
    """Stub: the registered task does the work."""
    raise AssertionError("a reference's body never runs")


@task
def shout(n: int) -> str:
    return "!" * n


@workflow
def uses_reference(text: str) -> str:
    return shout(n=count(text=text))


def test_a_reference_types_its_calls() -> None:
    spec = uses_reference.compile().spec
    assert spec.tasks["remote.count"].interface.outputs[0].type.simple is not None

    @workflow
    def bad(text: str) -> str:
        return count(text=1)  # type: ignore[arg-type]

    with pytest.raises(BindingError, match="expected str"):
        bad.compile()


@pytest.mark.usefixtures("ray_cluster")
def test_running_a_reference_says_it_is_not_registered() -> None:
    with pytest.raises(NodeFailedError) as info:
        uses_reference(text="abc")
    message = str(info.value)
    assert "reference to a registered entity" in message and "remote.count" in message
