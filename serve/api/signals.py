"""Signals of gate nodes (``wait_for_input``, ``approve``), after Flyte's SignalService:

``POST /api/v1/signals`` sets one (body: ``{"id": {"execution_id": {project, domain,
name}, "signal_id": ...}, "value": <JSON>}``): 400 when the value is not of the gate's
type, 404 for an unknown execution or signal, 409 when it is set already or the
execution has ended. ``GET /api/v1/signals/{project}/{domain}/{name}`` lists the gates of
an execution with their type and state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from serve.api.deps import Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.execution_schemas import ExecutionIdModel
from serve.api.params import DomainId, Name, ProjectId
from serve.api.schemas import RequestModel
from serve.store.execution_records import ExecutionId
from serve.store.signals import GateState

router = APIRouter(tags=["signals"], responses=ERROR_RESPONSES)


class SignalIdModel(RequestModel):
    execution_id: ExecutionIdModel
    signal_id: str = Field(min_length=1, max_length=100, description=(
        "The gate's name, as wait_for_input or approve gave it."))


class SignalSet(RequestModel):
    id: SignalIdModel
    value: Any = Field(description="The signal's value as JSON, of the gate's type (a "
                                   "boolean for an approval).")


class GateModel(BaseModel):
    node_id: str
    kind: str = Field(description="sleep, wait_for_input or approve.")
    signal_id: str = Field(description="The signal it waits for; empty for a sleep.")
    type: dict[str, Any] | None = Field(description="The signal's literal type.")
    type_name: str | None = Field(description="The signal's type, as Python writes it.")
    phase: str = Field(description="The gate node's phase: WAITING while it waits.")
    waiting_since: dt.datetime | None
    is_set: bool
    value: Any = Field(description="The signal's value, once set.")
    set_at: dt.datetime | None

    @classmethod
    def of(cls, gate: GateState) -> GateModel:
        return cls(node_id=gate.node_id, kind=gate.kind.value, signal_id=gate.signal_id,
                   type=gate.type.to_dict() if gate.type else None,
                   type_name=str(gate.type) if gate.type else None, phase=gate.phase.value,
                   waiting_since=gate.waiting_since, is_set=gate.is_set, value=gate.value,
                   set_at=gate.set_at)


class GateList(BaseModel):
    signals: list[GateModel]


@router.post("/signals", response_model=GateModel, summary="Set a gate's signal")
def set_signal(body: SignalSet, store: Store) -> GateModel:
    return GateModel.of(store.set_signal(body.id.execution_id.to_id(), body.id.signal_id,
                                         body.value))


@router.get("/signals/{project}/{domain}/{name}", response_model=GateList,
            summary="The gates of an execution and their signals")
def list_signals(project: ProjectId, domain: DomainId, name: Name, store: Store) -> GateList:
    gates = store.list_signals(ExecutionId(project, domain, name))
    return GateList(signals=[GateModel.of(g) for g in gates])
