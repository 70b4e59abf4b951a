"""The change feed of an execution, for live views (the console's polling fallback and
any client that follows an execution):

``GET /api/v1/executions/{project}/{domain}/{name}/changes?since=SEQ&limit=N`` answers
the execution's phase and times, and the nodes and attempts written after ``since``,
each in its state of now, with the ``seq`` to ask from next. Deltas only: a view that
follows one execution never refetches every node.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serve.api.deps import Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.execution_schemas import ErrorModel, log_url
from serve.api.params import DomainId, Name, ProjectId
from serve.store.change_records import AttemptChange, ExecutionChanges, NodeChange
from serve.store.changes import MAX_CHANGES
from serve.store.execution_records import ExecutionId

router = APIRouter(tags=["executions"], responses=ERROR_RESPONSES)


class ExecutionNowModel(BaseModel):
    phase: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: ErrorModel | None


class NodeChangeModel(BaseModel):
    node_id: str
    task: str
    phase: str
    position: int = Field(description="Its place in the workflow's order.")
    error_kind: str | None = Field(description="USER or SYSTEM, once it failed.")
    error: str | None = Field(description="The error's first line (a traceback's "
                              "exception line), at most 300 characters.")
    child_execution: str | None
    children: dict[str, int] = Field(description="Nodes a map, dynamic or launch plan "
                                     "node ran inside itself: how many are in each phase.")
    seq: int

    @classmethod
    def of(cls, n: NodeChange) -> NodeChangeModel:
        return cls(node_id=n.node_id, task=n.task, phase=n.phase.value, position=n.position,
                   error_kind=n.error_kind, error=n.error, child_execution=n.child_execution,
                   children=n.children, seq=n.seq)


class AttemptChangeModel(BaseModel):
    node_id: str
    attempt: int = Field(description="1 for the first.")
    started_at: float = Field(description="Epoch seconds, by the worker's clock.")
    ended_at: float | None = Field(description="null while it runs.")
    outcome: str | None = Field(description="SUCCEEDED, FAILED or TIMED_OUT once ended.")
    cache_status: str | None
    error_kind: str | None
    error: str | None = Field(description="The error's first line, at most 300 characters.")
    worker: dict[str, Any]
    log_url: str | None = Field(description="The API path of its log, if it keeps one.")
    seq: int

    @classmethod
    def of(cls, a: AttemptChange, ident: ExecutionId) -> AttemptChangeModel:
        t = a.attempt
        return cls(node_id=a.node_id, attempt=t.attempt, started_at=t.started_at,
                   ended_at=t.ended_at, outcome=t.outcome.value if t.outcome else None,
                   cache_status=t.cache_status, error_kind=t.error_kind, error=t.error,
                   worker=t.worker,
                   log_url=log_url(ident, a.node_id, t.attempt) if t.log_uri else None,
                   seq=a.seq)


class ExecutionChangesModel(BaseModel):
    seq: int = Field(description="Ask again with ?since= this.")
    more: bool = Field(description="The answer stopped at the limit: ask again at once.")
    terminal: bool = Field(description="The execution ended and everything was sent: "
                           "stop asking.")
    execution: ExecutionNowModel
    nodes: list[NodeChangeModel]
    attempts: list[AttemptChangeModel]

    @classmethod
    def of(cls, c: ExecutionChanges) -> ExecutionChangesModel:
        return cls(seq=c.seq, more=c.more, terminal=c.terminal, execution=ExecutionNowModel(
            phase=c.phase.value, started_at=c.started_at, ended_at=c.ended_at,
            error=ErrorModel.of(c.error)),
            nodes=[NodeChangeModel.of(n) for n in c.nodes],
            attempts=[AttemptChangeModel.of(a, c.execution) for a in c.attempts])


@router.get("/executions/{project}/{domain}/{name}/changes",
            response_model=ExecutionChangesModel,
            summary="What changed in an execution since a cursor: its phase, and the nodes "
                    "and attempts written after ?since= (deltas for live views)")
def execution_changes(
    project: ProjectId, domain: DomainId, name: Name, store: Store,
    since: Annotated[int, Query(ge=0, le=2**62, description=(
        "The seq of the previous answer; 0: everything."))] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES, description=(
        "Most nodes and attempts in one answer."))] = 5000,
) -> ExecutionChangesModel:
    return ExecutionChangesModel.of(
        store.execution_changes(ExecutionId(project, domain, name), since, limit))
