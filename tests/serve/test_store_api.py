"""The store's Python API, which the CLI (``flyray register``) and executions build on:
spec objects in, plain records out, code locations recorded. Over both backends."""

from __future__ import annotations

import pytest

from engine.dag.spec import Identifier, ResourceType
from serve.errors import ConflictError, InvalidArgumentError, NotFoundError
from serve.store import AdminStore, LaunchPlanEntity, ListOptions
from tests.fixtures import basic_wfs

BUNDLE = "s3://flyray-code/flytesnacks/abc123.zip"


def register_chain(store: AdminStore, code_uri: str | None = None) -> Identifier:
    for task in basic_wfs.chain.compile().spec.tasks.values():
        store.register_task(task, code_uri=code_uri)
    entity, created = store.register_workflow(basic_wfs.chain.compile().spec,
                                              code_uri=code_uri)
    assert created
    return entity.id


def test_code_location_is_recorded_with_the_entity(store: AdminStore) -> None:
    wf_id = register_chain(store, code_uri=BUNDLE)
    assert store.get(wf_id).code_uri == BUNDLE
    task_id = basic_wfs.add.spec().id
    assert store.get(task_id).code_uri == BUNDLE
    default_plan = store.get(Identifier(ResourceType.LAUNCH_PLAN, wf_id.project,
                                        wf_id.domain, wf_id.name, wf_id.version))
    assert isinstance(default_plan, LaunchPlanEntity)
    assert default_plan.code_uri == BUNDLE


def test_a_missing_code_location_is_filled_but_never_changed(store: AdminStore) -> None:
    spec = basic_wfs.add.spec()
    store.register_task(spec)
    entity, created = store.register_task(spec, code_uri=BUNDLE)
    assert (created, entity.code_uri) == (False, BUNDLE)
    assert store.register_task(spec)[0].code_uri == BUNDLE  # None keeps what is there
    with pytest.raises(ConflictError, match="already registered with its code at"):
        store.register_task(spec, code_uri="s3://flyray-code/other.zip")
    with pytest.raises(InvalidArgumentError, match="code_uri must be a URI"):
        store.register_task(spec, code_uri="not a uri")


def test_unknown_entities_are_not_found_and_bad_ids_are_invalid(store: AdminStore) -> None:
    missing = Identifier(ResourceType.TASK, "flytesnacks", "development", "nothing", "v1")
    with pytest.raises(NotFoundError, match="task flytesnacks/development/nothing@v1 is not"):
        store.get(missing)
    with pytest.raises(InvalidArgumentError, match="invalid name"):
        store.get(Identifier(ResourceType.TASK, "flytesnacks", "development", "a/b", "v1"))
    with pytest.raises(InvalidArgumentError, match="unknown resource_type"):
        store.list_entities("execution", "flytesnacks", "development")


def test_listing_through_the_python_api(store: AdminStore) -> None:
    wf_id = register_chain(store)
    workflows = store.list_entities(ResourceType.WORKFLOW, "flytesnacks", "development")
    assert [e.id for e in workflows.items] == [wf_id]
    assert workflows.items[0].spec == basic_wfs.chain.compile().spec.to_dict()
    names = store.list_names("launch_plan", "flytesnacks", "development",
                             ListOptions(limit=1))
    assert [n.name for n in names.items] == [wf_id.name] and names.token == ""
