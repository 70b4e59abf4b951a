"""The imperative Workflow builder compiles to the same kind of spec and runs on Ray."""

from __future__ import annotations

import pytest

from engine import task, workflow
from engine.dag.validate import load_workflow
from tests.fixtures import imperative_wfs as wfs


def test_the_built_workflow_has_a_spec() -> None:
    spec = wfs.shouter.compile().spec
    assert [v.name for v in spec.interface.inputs] == ["text"]
    assert [v.name for v in spec.interface.outputs] == ["head", "loud"]
    assert [n.id for n in spec.nodes] == ["n0", "n1"]
    assert load_workflow(spec.to_json()) == spec


@pytest.mark.usefixtures("ray_cluster")
def test_it_runs_and_can_be_called_inside_a_workflow() -> None:
    head, loud = wfs.shouter(text="hello")
    assert (head, loud) == ("h", "ELLO!")

    @task
    def join(a: str, b: str) -> str:
        return a + b

    @workflow
    def outer(text: str) -> str:
        result = wfs.shouter(text=text)
        return join(a=result.head, b=result.loud)

    assert outer(text="abc") == "aBC!"
