"""Types no transformer knows: declaring a task with one warns, and its values are pickled
and still pass between tasks through Ray."""

from __future__ import annotations

import os

import pytest

from engine.dag.run.executor import run
from engine.errors import OpaqueTypeWarning
from tests.fixtures import data_wfs


@pytest.mark.usefixtures("ray_cluster")
def test_opaque_type_warns_at_declaration_and_its_values_flow() -> None:
    with pytest.warns(OpaqueTypeWarning,
                      match=r"tests\.fixtures\.data_wfs\.Opaque is opaque to Flyray") as caught:
        wf = data_wfs.define_opaque_workflow()
    assert len([w for w in caught if w.category is OpaqueTypeWarning]) == 1  # once per type

    items, grown = run(wf.compile(), wf.bind_inputs((), {"n": 3, "extra": 9})).outputs

    assert items == [0, 1, 2, 9]
    assert isinstance(grown, data_wfs.Opaque)
    assert grown.items == [0, 1, 2, 9]
    assert grown.pid != os.getpid()  # built in a Ray worker, not in this process
