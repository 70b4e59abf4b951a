"""Launch plans: registration, reads, and activation per version.

``POST /api/v1/launch_plans``, the read routes of every entity,
``PUT /api/v1/launch_plans/{project}/{domain}/{name}/{version}`` with ``{"state": ...}``,
``GET /api/v1/active_launch_plans/{project}/{domain}[/{name}]``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from engine.dag.spec import Identifier, ResourceType
from serve.api.deps import ENTITIES, BlobRoot, Store
from serve.api.entities import Resource, add_read_routes, check_code_in_store, check_request_id
from serve.api.errors import ERROR_RESPONSES, created_responses
from serve.api.params import DomainId, Name, ProjectId, Version
from serve.api.schemas import (
    CodeLaunchPlanRegisterRequest,
    LaunchPlanList,
    LaunchPlanModel,
    LaunchPlanStateUpdate,
)
from serve.store import ListOptions

LAUNCH_PLANS = Resource(
    ResourceType.LAUNCH_PLAN, "launch_plans", "launch_plan_ids", LaunchPlanModel,
    lambda p: LaunchPlanList(launch_plans=[LaunchPlanModel.of(e) for e in p.items],
                             token=p.token),
    LaunchPlanList)

router = APIRouter(responses=ERROR_RESPONSES, tags=["launch_plans"])


@router.post("/launch_plans", response_model=LaunchPlanModel, status_code=201,
             responses=created_responses(LaunchPlanModel, "the same version was "
                                                          "registered before"),
             summary="Register a launch plan version, INACTIVE (identical: 200)")
def register_launch_plan(body: CodeLaunchPlanRegisterRequest, response: Response,
                         store: Store, blob_root: BlobRoot) -> LaunchPlanModel:
    spec = body.spec.model_dump()
    check_request_id(LAUNCH_PLANS, body.id, spec)
    check_code_in_store(body.code_uri, blob_root)
    entity, created = store.register_launch_plan(spec, body.code_uri)
    response.status_code = 201 if created else 200
    return LaunchPlanModel.of(entity)


@router.put("/launch_plans/{project}/{domain}/{name}/{version}",
            response_model=LaunchPlanModel,
            summary="Activate (deactivating the name's other versions) or deactivate")
def update_launch_plan(project: ProjectId, domain: DomainId, name: Name, version: Version,
                       body: LaunchPlanStateUpdate, store: Store) -> LaunchPlanModel:
    ident = Identifier(ResourceType.LAUNCH_PLAN, project, domain, name, version)
    return LaunchPlanModel.of(store.set_launch_plan_state(ident, body.state))


@router.get("/active_launch_plans/{project}/{domain}", response_model=LaunchPlanList,
            summary="List the active launch plan versions of a project and domain")
def list_active(project: ProjectId, domain: DomainId, store: Store,
                options: Annotated[ListOptions, Depends(ENTITIES)]) -> LaunchPlanList:
    page = store.active_launch_plans(project, domain, options)
    return LaunchPlanList(launch_plans=[LaunchPlanModel.of(e) for e in page.items],
                          token=page.token)


@router.get("/active_launch_plans/{project}/{domain}/{name}", response_model=LaunchPlanModel,
            summary="Get the active version of a launch plan")
def get_active(project: ProjectId, domain: DomainId, name: Name, store: Store) -> LaunchPlanModel:
    return LaunchPlanModel.of(store.active_launch_plan(project, domain, name))


add_read_routes(router, LAUNCH_PLANS)
