"""Identities computed for a project and domain chosen by the caller (``namespace``), as
the control plane compiles registered code for an execution's project and domain; one
process may compile for several, and the settings' defaults apply outside any block."""

from __future__ import annotations

import pytest

from engine import map_task
from engine.config import current_namespace, namespace
from tests.fixtures.basic_wfs import add, chain, noop


def test_a_task_takes_the_namespace_it_is_asked_in() -> None:
    default = add.spec()
    with namespace("analytics", "production"):
        chosen = add.spec()
    assert (default.id.project, default.id.domain) == ("flytesnacks", "development")
    assert (chosen.id.project, chosen.id.domain) == ("analytics", "production")
    assert chosen.id.name == default.id.name
    assert add.spec() == default  # the block's spec does not leak out of it


def test_a_workflow_compiles_its_tasks_in_the_namespace() -> None:
    with namespace("analytics", "staging"):
        compiled = chain.compile()
        assert current_namespace() == ("analytics", "staging")
    ids = [compiled.spec.id, *(task.id for task in compiled.spec.tasks.values())]
    assert {(i.project, i.domain) for i in ids} == {("analytics", "staging")}
    assert chain.compile().spec.id.project == "flytesnacks"


def test_namespaces_nest_and_are_restored() -> None:
    mapped = map_task(noop)
    with namespace("outer", "development"):
        with namespace("inner", "production"):
            assert mapped.spec().id.project == "inner"
        assert mapped.spec().id.project == "outer"
    assert current_namespace() == ("flytesnacks", "development")


def test_the_settings_choose_outside_any_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYRAY_PROJECT", "fromenv")
    assert current_namespace() == ("fromenv", "development")
