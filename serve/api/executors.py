"""The executors that drive executions: ``/api/v1/executors``.

``GET`` lists them as they last reported themselves (code version, executions in
flight, started, last heartbeat). ``POST /drain`` is for stopping the cluster:
``flyray demo stop`` calls it first, so running executions are handed back to be
resumed after the next start instead of failing with the cluster.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from serve.api.deps import Executions, Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.schemas import RequestModel
from serve.store.executor_records import ExecutorInfo

router = APIRouter(prefix="/executors", tags=["executors"], responses=ERROR_RESPONSES)


class ExecutorModel(BaseModel):
    name: str
    project: str
    domain: str
    code_uri: str | None = Field(description="The code bundle of the version it runs; "
                                             "null: the cluster's Python path.")
    warm: bool = Field(description="Kept running while idle.")
    node_ip: str
    pid: int
    in_flight: int = Field(description="Executions it drives now.")
    completed: int = Field(description="Executions it drove to their end (or handed back).")
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stale: bool = Field(description="Its last report is older than the liveness bound: "
                                    "it is presumably gone.")

    @classmethod
    def of(cls, info: ExecutorInfo) -> ExecutorModel:
        beat = info.beat
        return cls(name=beat.name, project=beat.project, domain=beat.domain,
                   code_uri=beat.code_uri, warm=beat.warm, node_ip=beat.node_ip,
                   pid=beat.pid, in_flight=beat.in_flight, completed=beat.completed,
                   started_at=info.started_at, heartbeat_at=info.heartbeat_at,
                   stale=info.stale)


class ExecutorList(BaseModel):
    executors: list[ExecutorModel]


class DrainRequest(RequestModel):
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="How long to wait for the "
                                                             "executions to be handed back.")


class DrainResult(BaseModel):
    released: int = Field(description="Executions handed back, to resume on the next "
                                      "launch.")


@router.get("", response_model=ExecutorList, summary="List the executors")
def list_executors(store: Store, executions: Executions) -> ExecutorList:
    infos = store.list_executors(executions.liveness.stale_after_s)
    return ExecutorList(executors=[ExecutorModel.of(i) for i in infos])


@router.post("/drain", response_model=DrainResult,
             summary="Hand back every running execution and launch nothing more (before "
                     "the cluster stops)")
def drain(executions: Executions,
          body: Annotated[DrainRequest | None, Body()] = None) -> DrainResult:
    return DrainResult(released=executions.drain((body or DrainRequest()).timeout_s))
