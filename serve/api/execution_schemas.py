"""Request and response models of the execution routes (``serve.api.executions``:
executions, their node executions and their data), in pydantic, after Flyte's: an
execution is ``{id, spec, closure}``; node executions carry their attempts.

Requests forbid unknown fields; times are ISO 8601 in UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.dag.run.state import AttemptRecord, NodePhase, NodeRecord
from serve.api.params import DomainId, Name, ProjectId, Version
from serve.api.schemas import IdentifierModel, RequestModel
from serve.store.execution_records import (
    CacheSource,
    ErrorInfo,
    Execution,
    ExecutionId,
    NodeAttempt,
    NodeExecution,
)

_MAX_CAUSE = 10_000
# Where serve.api.decks serves a node's deck document, serve.api.logs an attempt's log.
_DECKS = "/api/v1/decks"
_LOGS = "/api/v1/logs"


def _time(epoch: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc) if epoch is not None else None


def deck_url(ident: ExecutionId, node_id: str, attempt: int | None = None) -> str:
    """The API path that serves a node's deck document: its latest attempt's, or
    ``attempt``'s."""
    return f"{_DECKS}/{_path(ident, node_id)}" + (
        f"?attempt={attempt}" if attempt is not None else "")


def log_url(ident: ExecutionId, node_id: str, attempt: int) -> str:
    """The API path that serves the log of attempt ``attempt`` of a node (JSON; its
    ``/stream`` form follows a running one)."""
    return f"{_LOGS}/{_path(ident, node_id)}?attempt={attempt}"


def _path(ident: ExecutionId, node_id: str) -> str:
    return "/".join(quote(p, safe="") for p in (ident.project, ident.domain, ident.name,
                                                node_id))


class ExecutionIdModel(RequestModel):
    project: ProjectId
    domain: DomainId
    name: Name

    def to_id(self) -> ExecutionId:
        return ExecutionId(self.project, self.domain, self.name)

    @classmethod
    def of(cls, ident: ExecutionId) -> ExecutionIdModel:
        return cls(project=ident.project, domain=ident.domain, name=ident.name)


class EntityRef(RequestModel):
    """A registered entity by name and version (a launch plan's version is optional)."""

    name: Name
    version: Version | None = Field(default=None, description="Required for workflows and "
                                    "tasks; for a launch plan, omitted means its latest "
                                    "version.")


class RawOutputDataConfigModel(RequestModel):
    """Where an execution's raw outputs (files, directories, dataframes, offloaded
    values) go, as Flyte's ``RawOutputDataConfig``."""

    output_location_prefix: str = Field(max_length=2048, description=(
        "A URI inside the server's blob store; the execution writes under "
        "<prefix>/<project>/<domain>/<name>/."))


def _only(target: str, *required: str) -> dict[str, Any]:
    others = {k: {"type": "null"} for k in ("launch_plan", "workflow", "task") if k != target}
    ref: dict[str, Any] = {"type": "object"}
    if required:
        ref |= {"required": list(required),
                "properties": {k: {"type": "string"} for k in required}}
    return {"required": [target], "properties": {target: ref, **others}}


class ExecutionCreate(RequestModel):
    """Launch a launch plan, a workflow (its default launch plan) or a task: give one."""

    # The document states what _one_target checks: exactly one target; a workflow's or
    # task's with its version.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        _only("launch_plan"), _only("workflow", "version"), _only("task", "version")]})

    project: ProjectId
    domain: DomainId
    name: Name | None = Field(default=None, description="Your name for the execution: "
                             "repeating the same request returns the same execution.")
    launch_plan: EntityRef | None = None
    workflow: EntityRef | None = None
    task: EntityRef | None = None
    inputs: dict[str, Any] = Field(default_factory=dict, description="Input name -> JSON "
                                   "value; files and dataframes as URIs in the blob store.")
    overwrite_cache: bool = False
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False, description=(
        "Seconds the execution may run (from its start; queueing does not count): past "
        "them its running work is stopped and it ends TIMED_OUT. Relaunches and "
        "recoveries keep it. Omitted: no limit."))
    labels: dict[str, str] = Field(default_factory=dict, description=(
        "Kubernetes-style labels, added to (or overriding) the launch plan's; list "
        "executions with ?label=key:value."))
    annotations: dict[str, str] = Field(default_factory=dict, description=(
        "Kubernetes-style annotations, added to (or overriding) the launch plan's."))
    raw_output_data_config: RawOutputDataConfigModel | None = Field(default=None, description=(
        "Where raw outputs go; omitted: the launch plan's, else the blob store's default."))

    @model_validator(mode="after")
    def _one_target(self) -> ExecutionCreate:
        given = [k for k in ("launch_plan", "workflow", "task") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of launch_plan, workflow or task "
                             f"(got {', '.join(given) or 'none'})")
        ref = getattr(self, given[0])
        if given[0] != "launch_plan" and ref.version is None:
            raise ValueError(f"{given[0]}.version is required")
        return self


class TerminateRequest(RequestModel):
    cause: str = Field(default="terminated by the user", min_length=1, max_length=_MAX_CAUSE)


class RelaunchRequest(RequestModel):
    id: ExecutionIdModel
    name: Name | None = None
    overwrite_cache: bool | None = Field(default=None, description="Default: the original's.")


class RecoverRequest(RequestModel):
    id: ExecutionIdModel
    name: Name | None = None


class ErrorModel(BaseModel):
    kind: str = Field(description="USER (the code's doing) or SYSTEM (infrastructure)")
    message: str
    log_url: str | None = Field(default=None, description=(
        "A failed node's: the API path of the log of its last attempt, if it kept one."))

    @classmethod
    def of(cls, error: ErrorInfo | None, log: str | None = None) -> ErrorModel | None:
        return cls(kind=error.kind, message=error.message, log_url=log) if error else None


class ExecutionSpecModel(BaseModel):
    launch_plan: IdentifierModel | None
    workflow: IdentifierModel | None
    task: IdentifierModel | None
    inputs: dict[str, Any]
    overwrite_cache: bool
    mode: Literal["MANUAL", "RELAUNCH", "RECOVER", "SCHEDULED"]
    scheduled_at: dt.datetime | None = Field(
        default=None, description="SCHEDULED: the tick of the launch plan's schedule it "
                                  "was made for (UTC).")
    relaunched_from: ExecutionIdModel | None
    recovered_from: ExecutionIdModel | None
    code_uri: str | None
    timeout: float | None = Field(default=None, description="Seconds it may run before it "
                                  "ends TIMED_OUT; null: no limit.")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    raw_output_data_config: RawOutputDataConfigModel | None = Field(
        default=None, description="null: the blob store's default place.")


class ExecutionClosureModel(BaseModel):
    phase: Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"]
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None = Field(description="ended_at - started_at, by the database's "
                                     "clock")
    error: ErrorModel | None
    abort_cause: str | None
    driver_restarts: int = Field(description="Lost drivers replaced so far.")


class ExecutionModel(BaseModel):
    id: ExecutionIdModel
    spec: ExecutionSpecModel
    closure: ExecutionClosureModel

    @classmethod
    def of(cls, e: Execution) -> ExecutionModel:
        def ident(i: Any) -> IdentifierModel | None:
            return IdentifierModel.of(i) if i is not None else None

        duration = ((e.ended_at - e.started_at).total_seconds()
                    if e.started_at and e.ended_at else None)
        return cls(
            id=ExecutionIdModel.of(e.id),
            spec=ExecutionSpecModel(
                launch_plan=ident(e.launch_plan), workflow=ident(e.workflow),
                task=ident(e.task), inputs=e.inputs, overwrite_cache=e.overwrite_cache,
                mode=e.mode.value, scheduled_at=e.scheduled_at,
                relaunched_from=ExecutionIdModel.of(e.relaunched_from)
                if e.relaunched_from else None,
                recovered_from=ExecutionIdModel.of(e.recovered_from)
                if e.recovered_from else None,
                code_uri=e.code_uri, timeout=e.timeout_s, labels=e.labels,
                annotations=e.annotations,
                raw_output_data_config=RawOutputDataConfigModel(
                    output_location_prefix=e.raw_output_prefix)
                if e.raw_output_prefix is not None else None),
            closure=ExecutionClosureModel(
                phase=e.phase.value, created_at=e.created_at, started_at=e.started_at,
                ended_at=e.ended_at, duration_s=duration, error=ErrorModel.of(e.error),
                abort_cause=e.abort_cause, driver_restarts=e.driver_restarts))


class ExecutionList(BaseModel):
    executions: list[ExecutionModel]
    token: str = Field(description="Pass as ?token= for the next page; empty on the last.")


class CacheSourceModel(BaseModel):
    """Who computed the outputs a cache HIT took."""

    execution: ExecutionIdModel | None = Field(description=(
        "The execution whose run computed them; null for a local run, or a run this "
        "admin does not know (a sub-workflow's inside a node)."))
    run: str = Field(description="The run's name, as the data catalog records it.")
    node_id: str

    @classmethod
    def of(cls, source: CacheSource) -> CacheSourceModel:
        return cls(execution=ExecutionIdModel.of(source.execution) if source.execution
                   else None, run=source.run, node_id=source.node_id)


class AttemptModel(BaseModel):
    attempt: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None = Field(description="By the clock of the worker that ran it.")
    outcome: str | None
    error: ErrorModel | None
    cache_status: str | None = Field(description="DISABLED, HIT, MISS, OVERWRITTEN, FAILED")
    worker: dict[str, Any]
    deck_uri: str | None = Field(default=None, description=(
        "Its deck document in the blob store: a successful attempt of a task with "
        "enable_deck writes one."))
    deck_url: str | None = Field(default=None, description=(
        "The API path that serves that document as HTML (null for an attempt of a node "
        "run inside another node: read its deck_uri from the blob store)."))
    log_uri: str | None = Field(default=None, description=(
        "Its log (stdout, stderr and logging) in the blob store, known from its start."))
    log_url: str | None = Field(default=None, description=(
        "The API path that serves that log (GET /api/v1/logs/...; .../stream follows it)."))
    cache_source: CacheSourceModel | None = Field(default=None, description=(
        "A HIT's producer (null for any other cache status, and for HITs recorded before "
        "producers were)."))

    @classmethod
    def of(cls, a: NodeAttempt, ident: ExecutionId, node_id: str) -> AttemptModel:
        """An attempt of the node ``node_id`` of execution ``ident``."""
        model = cls._make(a.attempt, a.started_at, a.ended_at, a.outcome, a.error_kind,
                          a.error, a.cache_status, a.worker, a.deck_uri,
                          deck_url(ident, node_id, a.attempt) if a.deck_uri else None)
        if a.log_uri is not None:
            model.log_uri, model.log_url = a.log_uri, log_url(ident, node_id, a.attempt)
        if a.cache_source is not None:
            model.cache_source = CacheSourceModel.of(a.cache_source)
        return model

    @classmethod
    def of_record(cls, a: AttemptRecord) -> AttemptModel:
        """A child node's attempt, as the engine recorded it."""
        return cls._make(a.attempt, a.start, a.end, a.outcome,
                         a.error_kind.value if a.error_kind else None, a.error,
                         a.cache_status, a.worker, a.deck_uri, None)

    @classmethod
    def _make(cls, attempt: int, start: float, end: float | None, outcome: NodePhase | None,
              kind: str | None, error: str | None, cache: str | None,
              worker: dict[str, Any], deck: str | None, url: str | None) -> AttemptModel:
        return cls(attempt=attempt, started_at=_time(start), ended_at=_time(end),
                   duration_s=end - start if end is not None else None,
                   outcome=outcome.value if outcome else None,
                   error=ErrorModel(kind=kind or "SYSTEM", message=error)
                   if error is not None else None, cache_status=cache, worker=dict(worker),
                   deck_uri=deck, deck_url=url)


class ChildNodeModel(BaseModel):
    """A node a dynamic, map or launch plan node ran inside itself."""

    key: str
    node_id: str
    task: str
    phase: str
    attempts: list[AttemptModel]
    child_execution: str | None
    children: list[ChildNodeModel]

    @classmethod
    def of(cls, key: str, n: NodeRecord) -> ChildNodeModel:
        return cls(key=key, node_id=n.node_id, task=n.task, phase=n.phase.value,
                   attempts=[AttemptModel.of_record(a) for a in n.attempts],
                   child_execution=n.child_execution,
                   children=[cls.of(k, c) for k, c in n.children.items()])


class NodeExecutionIdModel(BaseModel):
    execution_id: ExecutionIdModel
    node_id: str


class NodeExecutionModel(BaseModel):
    id: NodeExecutionIdModel
    task: str
    phase: str
    started_at: dt.datetime | None = Field(description="Start of the first attempt.")
    ended_at: dt.datetime | None = Field(description="End of the last attempt.")
    duration_s: float | None
    cache_status: str | None = Field(description="Of the last attempt.")
    error: ErrorModel | None
    attempts: list[AttemptModel]
    children: list[ChildNodeModel]
    child_execution: str | None
    has_outputs: bool = Field(description="Outputs are stored: GET /api/v1/data/"
                              "node_executions/... reads them.")
    deck_uri: str | None = Field(default=None, description="The last attempt's deck "
                                 "document in the blob store, if it wrote one.")
    deck_url: str | None = Field(default=None, description="The API path that serves "
                                 "that document as HTML (GET /api/v1/decks/...).")
    log_url: str | None = Field(default=None, description="The API path of the last "
                                "attempt's log, if it kept one (GET /api/v1/logs/...).")

    @classmethod
    def of(cls, n: NodeExecution) -> NodeExecutionModel:
        attempts = [AttemptModel.of(a, n.execution, n.node_id) for a in n.attempts]
        log = attempts[-1].log_url if attempts else None
        deck = n.attempts[-1].deck_uri if n.attempts else None
        started = attempts[0].started_at if attempts else None
        ended = attempts[-1].ended_at if attempts else None
        return cls(
            id=NodeExecutionIdModel(execution_id=ExecutionIdModel.of(n.execution),
                                    node_id=n.node_id),
            task=n.task, phase=n.phase.value, started_at=started, ended_at=ended,
            duration_s=(ended - started).total_seconds() if started and ended else None,
            cache_status=n.attempts[-1].cache_status if n.attempts else None,
            error=ErrorModel.of(n.error, log), attempts=attempts,
            children=[ChildNodeModel.of(k, c) for k, c in n.children.items()],
            child_execution=n.child_execution, has_outputs=n.outputs is not None,
            deck_uri=deck, deck_url=deck_url(n.execution, n.node_id) if deck else None,
            log_url=log)


class NodeExecutionList(BaseModel):
    node_executions: list[NodeExecutionModel]


class DataModel(BaseModel):
    """Inputs and outputs (Flyte's GetExecutionData / GetNodeExecutionData): values inline
    as JSON; large ones stored in the blob store appear as ``{"uri": ..., "format":
    "json"}`` and are named in ``offloaded``."""

    inputs: dict[str, Any] | None = Field(description="null for a node that has not "
                                          "started yet (or whose inputs are not known)")
    outputs: dict[str, Any]
    offloaded: list[str] = Field(description="'inputs.<name>' or 'outputs.<name>' whose "
                                 "value is a reference to the blob store")

    @classmethod
    def of(cls, inputs: dict[str, Any] | None, stored: dict[str, Any] | None) -> DataModel:
        """An execution's: its ``inputs`` as JSON literals, its ``stored`` outputs."""
        outputs, offloaded = _values("outputs", stored)
        return cls(inputs=inputs, outputs=outputs, offloaded=offloaded)

    @classmethod
    def of_node(cls, inputs: dict[str, Any] | None,
                outputs: dict[str, Any] | None) -> DataModel:
        """A node's: its stored inputs and outputs."""
        values, offloaded = _values("inputs", inputs)
        outputs_values, more = _values("outputs", outputs)
        return cls(inputs=values if inputs is not None else None, outputs=outputs_values,
                   offloaded=offloaded + more)


def _values(kind: str, stored: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """Values of stored forms: inline ones as their JSON, offloaded ones as references."""
    values, offloaded = {}, []
    for name, form in (stored or {}).items():
        if isinstance(form, dict) and "inline" in form:
            values[name] = form["inline"]
        else:
            values[name] = form
            offloaded.append(f"{kind}.{name}")
    return values, offloaded
