"""Executions, their node executions and their data, after Flyte's REST paths:

``POST /api/v1/executions`` (launch), ``POST /api/v1/executions/relaunch``,
``POST /api/v1/executions/recover``, ``GET /api/v1/executions/{project}/{domain}[/{name}]``,
``DELETE /api/v1/executions/{project}/{domain}/{name}`` (terminate);
``GET /api/v1/node_executions/{project}/{domain}/{name}[/{node_id}]`` (attempts, timings,
cache status, errors and children); and the inputs and outputs of either,
``GET /api/v1/data/executions/{project}/{domain}/{name}`` and
``GET /api/v1/data/node_executions/{project}/{domain}/{name}/{node_id}``.

Launching and terminating go through the execution service (they start and stop
drivers); reads go to the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import StringConstraints

from engine.dag.run.state import ExecutionPhase
from engine.dag.spec.labels import KEY_PATTERN
from serve.api.deps import EXECUTIONS, Executions, Store
from serve.api.errors import ERROR_RESPONSES, created_responses
from serve.api.execution_schemas import (
    DataModel,
    ExecutionCreate,
    ExecutionList,
    ExecutionModel,
    NodeExecutionList,
    NodeExecutionModel,
    RecoverRequest,
    RelaunchRequest,
    TerminateRequest,
)
from serve.api.params import DomainId, Name, NodeId, ProjectId, Version
from serve.store import ListOptions
from serve.store.execution_labels import parse_filter
from serve.store.execution_records import (
    ExecutionFilters,
    ExecutionId,
    ExecutionRequest,
    TargetKind,
)

router = APIRouter(tags=["executions"], responses=ERROR_RESPONSES)
# ?label=key:value: a label key ([prefix/]name), ':', any value
# (serve.store.execution_labels.parse_filter).
LabelFilter = Annotated[str, StringConstraints(pattern=f"^{KEY_PATTERN}:")]


@router.post("/executions", response_model=ExecutionModel, status_code=201,
             responses=created_responses(ExecutionModel, "the same named request was made "
                                                         "before: the existing execution"),
             summary="Launch a launch plan, workflow or task (the same named request "
                     "again: 200 with the existing execution)")
def create_execution(body: ExecutionCreate, response: Response,
                     executions: Executions) -> ExecutionModel:
    kind = next(k for k in TargetKind if getattr(body, k.value) is not None)
    ref = getattr(body, kind.value)
    execution, created = executions.create(ExecutionRequest(
        body.project, body.domain, body.name, kind, ref.name, ref.version, body.inputs,
        body.overwrite_cache, body.timeout, body.labels, body.annotations,
        body.raw_output_data_config.output_location_prefix
        if body.raw_output_data_config is not None else None))
    response.status_code = 201 if created else 200
    return ExecutionModel.of(execution)


@router.post("/executions/relaunch", response_model=ExecutionModel, status_code=201,
             responses=created_responses(ExecutionModel, "the named relaunch was made before"),
             summary="Run an execution again: same versions, same inputs (mode RELAUNCH)")
def relaunch_execution(body: RelaunchRequest, response: Response,
                       executions: Executions) -> ExecutionModel:
    execution, created = executions.relaunch(body.id.to_id(), body.name, body.overwrite_cache)
    response.status_code = 201 if created else 200
    return ExecutionModel.of(execution)


@router.post("/executions/recover", response_model=ExecutionModel, status_code=201,
             responses=created_responses(ExecutionModel, "the named recovery was made before"),
             summary="Run an ended execution again, reusing the outputs of its succeeded "
                     "nodes (RECOVERED) and running the rest (mode RECOVER)")
def recover_execution(body: RecoverRequest, response: Response,
                      executions: Executions) -> ExecutionModel:
    execution, created = executions.recover(body.id.to_id(), body.name)
    response.status_code = 201 if created else 200
    return ExecutionModel.of(execution)


@router.get("/executions/{project}/{domain}/{name}", response_model=ExecutionModel,
            summary="Get an execution")
def get_execution(project: ProjectId, domain: DomainId, name: Name,
                  store: Store) -> ExecutionModel:
    return ExecutionModel.of(store.get_execution(ExecutionId(project, domain, name)))


@router.get("/executions/{project}/{domain}", response_model=ExecutionList,
            summary="List executions of a project and domain, newest first")
def list_executions(
    project: ProjectId, domain: DomainId, store: Store,
    options: Annotated[ListOptions, Depends(EXECUTIONS)],
    phase: Annotated[list[ExecutionPhase] | None, Query(
        description="Only these phases (repeat the parameter for several).")] = None,
    launch_plan: Annotated[Name | None, Query(description="Only this launch plan's.")] = None,
    created_after: Annotated[dt.datetime | None, Query(
        description="ISO 8601; without a zone, UTC.")] = None,
    created_before: Annotated[dt.datetime | None, Query(
        description="ISO 8601; without a zone, UTC.")] = None,
    label: Annotated[list[LabelFilter] | None, Query(description=(
        "key:value; only executions with this label (repeat: all of them)."))] = None,
    workflow: Annotated[Name | None, Query(description="Only this workflow's.")] = None,
    version: Annotated[Version | None, Query(description=(
        "Only those running this version of their workflow (or task)."))] = None,
) -> ExecutionList:
    filters = ExecutionFilters(tuple(phase or ()), launch_plan, _utc(created_after),
                               _utc(created_before),
                               tuple(parse_filter(text) for text in label or ()),
                               workflow, version)
    page = store.list_executions(project, domain, filters, options)
    return ExecutionList(executions=[ExecutionModel.of(e) for e in page.items],
                         token=page.token)


@router.delete("/executions/{project}/{domain}/{name}", response_model=ExecutionModel,
               summary="Terminate: ABORTED with the cause, running work cancelled "
                       "(an ABORTED execution again: 200, unchanged)")
def terminate_execution(project: ProjectId, domain: DomainId, name: Name,
                        executions: Executions,
                        body: Annotated[TerminateRequest | None, Body()] = None
                        ) -> ExecutionModel:
    cause = body.cause if body is not None else TerminateRequest().cause
    return ExecutionModel.of(executions.terminate(ExecutionId(project, domain, name), cause))


@router.get("/node_executions/{project}/{domain}/{name}", response_model=NodeExecutionList,
            summary="List an execution's node executions, in the workflow's order")
def list_node_executions(project: ProjectId, domain: DomainId, name: Name,
                         store: Store) -> NodeExecutionList:
    nodes = store.list_node_executions(ExecutionId(project, domain, name))
    return NodeExecutionList(node_executions=[NodeExecutionModel.of(n) for n in nodes])


@router.get("/node_executions/{project}/{domain}/{name}/{node_id}",
            response_model=NodeExecutionModel, summary="Get one node execution")
def get_node_execution(project: ProjectId, domain: DomainId, name: Name, node_id: NodeId,
                       store: Store) -> NodeExecutionModel:
    return NodeExecutionModel.of(
        store.get_node_execution(ExecutionId(project, domain, name), node_id))


@router.get("/data/executions/{project}/{domain}/{name}", response_model=DataModel,
            summary="An execution's inputs and (once SUCCEEDED) outputs")
def execution_data(project: ProjectId, domain: DomainId, name: Name,
                   store: Store) -> DataModel:
    execution = store.get_execution(ExecutionId(project, domain, name))
    return DataModel.of(execution.inputs, execution.outputs)


@router.get("/data/node_executions/{project}/{domain}/{name}/{node_id}",
            response_model=DataModel,
            summary="A node's inputs (once it started) and outputs (once SUCCEEDED or "
                    "RECOVERED)")
def node_execution_data(project: ProjectId, domain: DomainId, name: Name, node_id: NodeId,
                        store: Store) -> DataModel:
    node = store.get_node_execution(ExecutionId(project, domain, name), node_id)
    return DataModel.of_node(node.inputs, node.outputs)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """In UTC, as every stored time is (SQLite compares them as text)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)
