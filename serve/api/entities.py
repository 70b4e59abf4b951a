"""Registered tasks and workflows, after Flyte's REST paths:

``POST /api/v1/tasks``, ``GET /api/v1/tasks/{project}/{domain}[/{name}[/{version}]]``,
``GET /api/v1/task_ids/{project}/{domain}``, and the same for workflows. The read
routes are built by :func:`add_read_routes`, which launch plans reuse. A registration
body may name the code bundle the entity runs from (``code_uri``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from engine.dag.spec import Identifier, ResourceType
from serve.api.deps import ENTITIES, ENTITY_NAMES, ENTITY_VERSIONS, BlobRoot, Store
from serve.api.errors import ERROR_RESPONSES, created_responses
from serve.api.params import DomainId, Name, ProjectId, Version
from serve.api.schemas import (
    CodeRegisterRequest,
    EntityModel,
    IdentifierModel,
    NamedEntityIdentifier,
    NamedEntityIdentifierList,
    TaskList,
    WorkflowList,
)
from serve.errors import InvalidArgumentError
from serve.store import Entity, ListOptions, Page
from serve.store.inputs import inside


@dataclass(frozen=True)
class Resource:
    """How one resource type appears in the API."""

    kind: ResourceType
    plural: str  # "tasks": the collection's path segment
    ids: str  # "task_ids": the path of its names
    item: type[EntityModel]
    page: Callable[[Page[Entity]], BaseModel]
    page_model: type[BaseModel]

    @property
    def label(self) -> str:
        return self.kind.value.replace("_", " ")


def check_request_id(resource: Resource, given: IdentifierModel, spec: dict[str, Any]) -> None:
    """The request's ``id`` must be of this resource and equal the spec's own id."""
    if given.resource_type != resource.kind.value:
        raise InvalidArgumentError(
            f"id.resource_type is '{given.resource_type}', but /api/v1/{resource.plural} "
            f"registers {resource.label}s (resource_type '{resource.kind.value}')")
    if spec.get("id") != given.model_dump():
        raise InvalidArgumentError(
            f"the request's id {given.model_dump()} differs from the spec's own id "
            f"{spec.get('id')!r}; they must be the same")


def add_read_routes(router: APIRouter, r: Resource) -> None:
    """GET one version, the versions of a name, everything in a domain, and the names."""

    def get_version(project: ProjectId, domain: DomainId, name: Name, version: Version,
                    store: Store) -> Any:
        return r.item.of(store.get(Identifier(r.kind, project, domain, name, version)))

    def list_versions(project: ProjectId, domain: DomainId, name: Name, store: Store,
                      options: Annotated[ListOptions, Depends(ENTITY_VERSIONS)]
                      ) -> Any:
        return r.page(store.list_entities(r.kind, project, domain,
                                          replace(options, name=name)))

    def list_all(project: ProjectId, domain: DomainId, store: Store,
                 options: Annotated[ListOptions, Depends(ENTITIES)]) -> Any:
        return r.page(store.list_entities(r.kind, project, domain, options))

    def list_names(project: ProjectId, domain: DomainId, store: Store,
                   options: Annotated[ListOptions, Depends(ENTITY_NAMES)]) -> Any:
        page = store.list_names(r.kind, project, domain, options)
        return NamedEntityIdentifierList(
            entities=[NamedEntityIdentifier.of(n) for n in page.items], token=page.token)

    base = f"/{r.plural}/{{project}}/{{domain}}"
    kind = r.kind.value
    router.add_api_route(f"{base}/{{name}}/{{version}}", get_version, methods=["GET"],
                         response_model=r.item, operation_id=f"get_{kind}",
                         summary=f"Get one {r.label} version", tags=[r.plural])
    router.add_api_route(f"{base}/{{name}}", list_versions, methods=["GET"],
                         response_model=r.page_model, operation_id=f"list_{kind}_versions",
                         summary=f"List the versions of a {r.label}", tags=[r.plural])
    router.add_api_route(base, list_all, methods=["GET"], response_model=r.page_model,
                         operation_id=f"list_{kind}s",
                         summary=f"List {r.label}s of a project and domain", tags=[r.plural])
    router.add_api_route(f"/{r.ids}/{{project}}/{{domain}}", list_names, methods=["GET"],
                         response_model=NamedEntityIdentifierList,
                         operation_id=f"list_{kind}_ids",
                         summary=f"List the names of {r.label}s", tags=[r.plural])


TASKS = Resource(ResourceType.TASK, "tasks", "task_ids", EntityModel,
                 lambda p: TaskList(tasks=[EntityModel.of(e) for e in p.items], token=p.token),
                 TaskList)
WORKFLOWS = Resource(
    ResourceType.WORKFLOW, "workflows", "workflow_ids", EntityModel,
    lambda p: WorkflowList(workflows=[EntityModel.of(e) for e in p.items], token=p.token),
    WorkflowList)

router = APIRouter(responses=ERROR_RESPONSES)


def check_code_in_store(code_uri: str | None, blob_root: str) -> None:
    """A code bundle is Ray's ``working_dir`` for the entity's executions: only one in the
    server's own blob store is taken (where ``flyray register`` uploads it), never one a
    client points at elsewhere (another bucket, a web server, a path on the cluster)."""
    if code_uri is not None and not inside(code_uri, blob_root):
        raise InvalidArgumentError(
            f"code_uri must be inside the server's blob store {blob_root}, got "
            f"{code_uri[:200]!r}; upload the bundle there (flyray register does)")


@router.post("/tasks", response_model=EntityModel, status_code=201, tags=["tasks"],
             responses=created_responses(EntityModel, "the same task was registered before"),
             summary="Register a task (an identical one registered before: 200)")
def register_task(body: CodeRegisterRequest, response: Response, store: Store,
                  blob_root: BlobRoot) -> EntityModel:
    check_request_id(TASKS, body.id, body.spec)
    check_code_in_store(body.code_uri, blob_root)
    entity, created = store.register_task(body.spec, body.code_uri)
    response.status_code = 201 if created else 200
    return EntityModel.of(entity)


@router.post("/workflows", response_model=EntityModel, status_code=201, tags=["workflows"],
             responses=created_responses(EntityModel, "the same workflow was registered "
                                                      "before"),
             summary="Register a workflow and its default launch plan (identical: 200)")
def register_workflow(body: CodeRegisterRequest, response: Response,
                      store: Store, blob_root: BlobRoot) -> EntityModel:
    check_request_id(WORKFLOWS, body.id, body.spec)
    check_code_in_store(body.code_uri, blob_root)
    entity, created = store.register_workflow(body.spec, body.code_uri)
    response.status_code = 201 if created else 200
    return EntityModel.of(entity)


add_read_routes(router, TASKS)
add_read_routes(router, WORKFLOWS)
