"""reference_task: typed at compile time; running one needs the admin API, and says where
it looked when none answers (tests/serve/test_references.py runs them on one)."""

from __future__ import annotations

import pytest

from engine import reference_task, task, workflow
from engine.errors import BindingError, ErrorKind, NodeFailedError


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
def test_running_a_reference_without_an_admin_says_where_it_looked(
        closed_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYRAY_ADMIN_ENDPOINT", closed_endpoint)
    with pytest.raises(NodeFailedError) as info:
        uses_reference(text="abc")
    error = info.value
    assert error.node_id == "n0" and error.kind is ErrorKind.SYSTEM
    assert "task 'remote.count' (flytesnacks/development, version v1) is a reference to a " \
           "registered entity" in error.cause
    assert f"cannot reach the Flyray admin API at {closed_endpoint} (connection refused)" \
           in error.cause
    assert "flyray demo start" in error.cause
