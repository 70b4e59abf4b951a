"""Inputs and outputs of executions and node executions:
``GET /api/v1/data/executions/{project}/{domain}/{name}`` and
``GET /api/v1/data/node_executions/{project}/{domain}/{name}/{node_id}``."""

from __future__ import annotations

from fastapi import APIRouter

from serve.api.deps import Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.execution_schemas import DataModel
from serve.store.execution_records import ExecutionId

router = APIRouter(prefix="/data", tags=["executions"], responses=ERROR_RESPONSES)


@router.get("/executions/{project}/{domain}/{name}", response_model=DataModel,
            summary="An execution's inputs and (once SUCCEEDED) outputs")
def execution_data(project: str, domain: str, name: str, store: Store) -> DataModel:
    execution = store.get_execution(ExecutionId(project, domain, name))
    return DataModel.of(execution.inputs, execution.outputs)


@router.get("/node_executions/{project}/{domain}/{name}/{node_id}", response_model=DataModel,
            summary="A node's inputs (once it started) and outputs (once SUCCEEDED or "
                    "RECOVERED)")
def node_execution_data(project: str, domain: str, name: str, node_id: str,
                        store: Store) -> DataModel:
    node = store.get_node_execution(ExecutionId(project, domain, name), node_id)
    return DataModel.of_node(node.inputs, node.outputs)
