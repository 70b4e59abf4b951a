"""Node executions of an execution, with attempts, timings, cache status, errors and
children: ``GET /api/v1/node_executions/{project}/{domain}/{name}[/{node_id}]``."""

from __future__ import annotations

from fastapi import APIRouter

from serve.api.deps import Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.execution_schemas import NodeExecutionList, NodeExecutionModel
from serve.store.execution_records import ExecutionId

router = APIRouter(prefix="/node_executions", tags=["executions"],
                   responses=ERROR_RESPONSES)


@router.get("/{project}/{domain}/{name}", response_model=NodeExecutionList,
            summary="List an execution's node executions, in the workflow's order")
def list_node_executions(project: str, domain: str, name: str,
                         store: Store) -> NodeExecutionList:
    nodes = store.list_node_executions(ExecutionId(project, domain, name))
    return NodeExecutionList(node_executions=[NodeExecutionModel.of(n) for n in nodes])


@router.get("/{project}/{domain}/{name}/{node_id}", response_model=NodeExecutionModel,
            summary="Get one node execution")
def get_node_execution(project: str, domain: str, name: str, node_id: str,
                       store: Store) -> NodeExecutionModel:
    return NodeExecutionModel.of(
        store.get_node_execution(ExecutionId(project, domain, name), node_id))
