"""Executions: created (idempotently, by name), launched as slots allow, read, listed,
terminated and ended.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name.
The row helpers (``get_row``, ``record_of``, ``end``, ...) serve the drivers' and the
schedules' modules. What runs is resolved when the execution is created (latest launch
plan version, inputs with defaults and fixed inputs) and kept: a relaunch or recovery
runs exactly the same entity versions with the same inputs. An execution is *launched*
(``launch`` > 0) when the admin starts a driver for it, at once or, under a launch
plan's ``max_parallel_executions``, when a slot frees (``serve.store.drivers`` has what
happens to it then). Every time here is the database's.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.dag.run.state import ExecutionPhase, NodePhase
from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType, TaskSpec, WorkflowSpec
from engine.dag.spec.diff import json_diff
from serve.errors import ConflictError, ExecutionEndedError, InvalidArgumentError, NotFoundError
from serve.store import _paging, entities, execution_labels, notifications, summaries
from serve.store._models import (
    ExecutionRow,
    LaunchPlanRow,
    NodeExecutionRow,
    TaskRow,
    WorkflowRow,
)
from serve.store.database import aware, db_now
from serve.store.execution_records import (
    ACTIVE_PHASES,
    ErrorInfo,
    Execution,
    ExecutionFilters,
    ExecutionId,
    ExecutionMode,
    ExecutionRequest,
    LaunchTicket,
    TargetKind,
)
from serve.store.identifiers import check_part, describe
from serve.store.inputs import check_input_uris, resolve_launch_plan_inputs, resolve_task_inputs
from serve.store.projects import require_domain
from serve.store.records import ListOptions, Page, SortKey
from serve.store.specs import canonical_json

# What a create returns: the execution, whether it is new, and the drivers to start now.
Created = tuple[Execution, bool, list[LaunchTicket]]
# The stored phases of a QUEUED or RUNNING execution, for SQL filters.
ACTIVE = [p.value for p in ACTIVE_PHASES]
_MAX_CAUSE = 10_000


# --- rows --------------------------------------------------------------------------------


def find(s: Session, ident: ExecutionId, *, lock: bool = False) -> ExecutionRow | None:
    query = select(ExecutionRow).where(ExecutionRow.project == ident.project,
                                       ExecutionRow.domain == ident.domain,
                                       ExecutionRow.name == ident.name)
    return cast("ExecutionRow | None", s.scalar(query.with_for_update() if lock else query))


def get_row(s: Session, ident: ExecutionId, *, lock: bool = False) -> ExecutionRow:
    """The execution's row; NotFoundError (naming a missing project or domain first)
    when it does not exist."""
    check_part("project", ident.project)
    check_part("domain", ident.domain)
    check_part("name", ident.name)
    row = find(s, ident, lock=lock)
    if row is None:
        require_domain(s, ident.project, ident.domain, registering=False)
        raise NotFoundError(f"execution {ident} does not exist")
    return row


def id_of(row: ExecutionRow) -> ExecutionId:
    return ExecutionId(row.project, row.domain, row.name)


def record_of(s: Session, row: ExecutionRow) -> Execution:
    target = json.loads(row.target)
    ids = {k: Identifier.from_dict(v) if v else None for k, v in target.items()}

    def source(pk: int | None) -> ExecutionId | None:
        other = s.get(ExecutionRow, pk) if pk is not None else None
        return id_of(other) if other is not None else None

    error = (ErrorInfo(row.error_kind or "SYSTEM", row.error_message)
             if row.error_message is not None else None)
    labels, annotations, raw_output_prefix = execution_labels.read(row)
    return Execution(
        id_of(row), ids["launch_plan"], ids["workflow"], ids["task"], json.loads(row.inputs),
        row.overwrite_cache, ExecutionMode(row.mode), source(row.relaunched_from_pk),
        source(row.recovered_from_pk), row.code_uri, ExecutionPhase(row.phase), error,
        row.abort_cause, aware(row.created_at),
        aware(row.started_at) if row.started_at else None,
        aware(row.ended_at) if row.ended_at else None, row.driver_restarts,
        json.loads(row.outputs) if row.outputs is not None else None,
        aware(row.scheduled_at) if row.scheduled_at else None, timeout_s=row.timeout_s,
        labels=labels, annotations=annotations, raw_output_prefix=raw_output_prefix)


# --- create ------------------------------------------------------------------------------


def create_execution(s: Session, request: ExecutionRequest, blob_root: str | None = None,
                     max_starting: int | None = None) -> Created:
    """Create a QUEUED execution (or find the identical request's); returns it,
    whether it is new, and the drivers to start now (see :func:`dispatch_waiting`).
    ``blob_root``: the blob store that file and dataframe inputs must be in."""
    row, created = create_row(s, request, blob_root)
    return _created(s, row, created, max_starting)


def relaunch_execution(s: Session, source: ExecutionId, name: str | None = None,
                       overwrite_cache: bool | None = None,
                       max_starting: int | None = None) -> Created:
    """A new execution of the same entity versions with the same inputs."""
    row, created = _create_from(s, source, ExecutionMode.RELAUNCH, name, overwrite_cache)
    return _created(s, row, created, max_starting)


def recover_execution(s: Session, source: ExecutionId, name: str | None = None,
                      max_starting: int | None = None) -> Created:
    """A new execution that takes the outputs of ``source``'s succeeded nodes and runs
    the others (failed, skipped, aborted or never started)."""
    row, created = _create_from(s, source, ExecutionMode.RECOVER, name, None)
    return _created(s, row, created, max_starting)


def _created(s: Session, row: ExecutionRow, created: bool,
             max_starting: int | None) -> Created:
    tickets = dispatch_waiting(s, max_starting) if created else []
    return record_of(s, row), created, tickets


def create_row(s: Session, request: ExecutionRequest,
               blob_root: str | None) -> tuple[ExecutionRow, bool]:
    """A new QUEUED execution, or the one created before under the same name by the
    same request (and False). ConflictError when the name is taken by another request."""
    require_domain(s, request.project, request.domain, registering=True)
    name = check_part("name", request.name) if request.name is not None else _new_name()
    ident = ExecutionId(request.project, request.domain, name)
    timeout = _timeout(request.timeout_s)
    text = canonical_json(request.to_dict())
    existing = _existing(s, ident, text)
    if existing is not None:
        return existing, False
    columns = {**_resolve(s, request, blob_root), "timeout_s": timeout}
    row = _insert(s, ident, text, columns, request.overwrite_cache, ExecutionMode.MANUAL)
    execution_labels.add_rows(s, row)
    return row, True


def _create_from(s: Session, source_id: ExecutionId, mode: ExecutionMode, name: str | None,
                 overwrite_cache: bool | None) -> tuple[ExecutionRow, bool]:
    """A relaunch or recovery of ``source_id``: the same entity versions and inputs."""
    source = get_row(s, source_id)
    if mode is ExecutionMode.RECOVER and ExecutionPhase(source.phase) in ACTIVE_PHASES:
        raise InvalidArgumentError(
            f"execution {source_id} is {source.phase}; only an execution that has ended can "
            "be recovered (terminate it first, or wait for it to end)")
    cache = source.overwrite_cache if overwrite_cache is None else overwrite_cache
    ident = ExecutionId(source.project, source.domain,
                        check_part("name", name) if name is not None else _new_name())
    text = canonical_json({mode.value.lower(): source_id.to_dict(),
                           "overwrite_cache": cache})
    existing = _existing(s, ident, text)
    if existing is not None:
        return existing, False
    columns = {k: getattr(source, k) for k in (
        "launch_plan_pk", "workflow_pk", "task_pk", "launch_plan_name", "target", "inputs",
        "code_uri", "timeout_s", *execution_labels.COLUMNS)}
    pk_column = ("relaunched_from_pk" if mode is ExecutionMode.RELAUNCH
                 else "recovered_from_pk")
    columns[pk_column] = source.pk
    row = _insert(s, ident, text, columns, cache, mode)
    execution_labels.add_rows(s, row)
    return row, True


def _timeout(seconds: float | None) -> float | None:
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(
            seconds, (int, float)) or not 0 < seconds < math.inf):
        raise InvalidArgumentError(f"timeout must be a number of seconds > 0 (or none), got "
                                   f"{seconds!r}")
    return seconds


def _new_name() -> str:
    # As Flyte's: a letter then hex, short enough to read and type.
    return "f" + uuid.uuid4().hex[:19]


def _existing(s: Session, ident: ExecutionId, text: str) -> ExecutionRow | None:
    row = find(s, ident, lock=True)
    if row is None:
        return None
    if row.request != text:
        paths = json_diff(json.loads(row.request), json.loads(text))
        raise ConflictError(
            f"execution {ident} exists, created by another request (it differs at "
            f"{', '.join(paths) or 'its text'}); choose another name, or repeat the same "
            "request to get the existing execution", paths)
    return row


def _insert(s: Session, ident: ExecutionId, request: str, columns: dict[str, Any],
            overwrite_cache: bool, mode: ExecutionMode) -> ExecutionRow:
    row = ExecutionRow(
        project=ident.project, domain=ident.domain, name=ident.name, request=request,
        overwrite_cache=overwrite_cache, mode=mode.value, phase=ExecutionPhase.QUEUED.value,
        created_at=db_now(s), launch=0, incarnation=0, driver_restarts=0, **columns)
    s.add(row)
    s.flush()
    return row


def _resolve(s: Session, request: ExecutionRequest, blob_root: str | None) -> dict[str, Any]:
    """The rows and inputs a request runs: columns of the new execution."""
    p, d = request.project, request.domain
    if request.kind is TargetKind.TASK:
        if request.version is None:
            raise InvalidArgumentError("task.version is required")
        task_id = Identifier(ResourceType.TASK, p, d, request.entity, request.version)
        task_row = entities.get_row(s, task_id)
        assert isinstance(task_row, TaskRow)
        spec = TaskSpec.from_dict(json.loads(task_row.spec))
        where = f"execution of {describe(task_id)}"
        inputs = resolve_task_inputs(spec.interface, request.inputs, where)
        check_input_uris(inputs, spec.interface, blob_root, where)
        return {"task_pk": task_row.pk, "target": _target(None, None, task_id),
                "inputs": canonical_json(inputs), "code_uri": task_row.code_uri,
                **execution_labels.resolve(None, request, blob_root, where)}
    if request.kind is TargetKind.WORKFLOW:
        if request.version is None:
            raise InvalidArgumentError("workflow.version is required")
        # A workflow runs as its default launch plan (same name and version).
        entities.get_row(s, Identifier(ResourceType.WORKFLOW, p, d, request.entity,
                                       request.version))
        plan_row = entities.get_row(s, Identifier(ResourceType.LAUNCH_PLAN, p, d,
                                                  request.entity, request.version))
    elif request.version is not None:
        plan_row = entities.get_row(s, Identifier(ResourceType.LAUNCH_PLAN, p, d,
                                                  request.entity, request.version))
    else:
        plan_row = _latest_plan(s, p, d, request.entity)
    assert isinstance(plan_row, LaunchPlanRow)
    plan = LaunchPlanSpec.from_dict(json.loads(plan_row.spec))
    workflow_row = s.get(WorkflowRow, plan_row.workflow_pk)
    assert workflow_row is not None  # a foreign key
    workflow = WorkflowSpec.from_dict(json.loads(workflow_row.spec))
    inputs = resolve_launch_plan_inputs(plan, workflow, request.inputs)
    where = f"launch of {describe(plan.id)}"
    check_input_uris(inputs, workflow.interface, blob_root, where)
    return {"launch_plan_pk": plan_row.pk, "workflow_pk": workflow_row.pk,
            "launch_plan_name": plan.id.name,
            "target": _target(plan.id, workflow.id, None), "inputs": canonical_json(inputs),
            "code_uri": plan_row.code_uri or workflow_row.code_uri,
            **execution_labels.resolve(plan, request, blob_root, where)}


def _latest_plan(s: Session, project: str, domain: str, name: str) -> LaunchPlanRow:
    check_part("name", name)
    row = s.scalar(select(LaunchPlanRow).where(
        LaunchPlanRow.project == project, LaunchPlanRow.domain == domain,
        LaunchPlanRow.name == name).order_by(LaunchPlanRow.created_at.desc(),
                                             LaunchPlanRow.pk.desc()).limit(1))
    if row is None:
        raise NotFoundError(f"launch plan {project}/{domain}/{name} is not registered")
    return row


def _target(plan: Identifier | None, workflow: Identifier | None,
            task: Identifier | None) -> str:
    return canonical_json({k: v.to_dict() if v else None for k, v in (
        ("launch_plan", plan), ("workflow", workflow), ("task", task))})


# --- launch ------------------------------------------------------------------------------


def dispatch_waiting(s: Session, max_starting: int | None = None) -> list[LaunchTicket]:
    """Launch waiting executions, oldest first; returns the drivers to start. Each needs
    a free slot of its launch plan (``max_parallel_executions``), and no more than
    ``max_starting`` drivers may be starting (launched, not yet claimed) at once (None: no
    bound). A burst of executions so starts a few processes at a time instead of all at
    once, which would starve the machine and the API with it. Rows are locked
    (PostgreSQL skips those another admin is launching; SQLite serializes writers), so
    two admins never launch one execution twice."""
    now = db_now(s)
    room = None if max_starting is None else max_starting - _starting(s)
    if room is not None and room <= 0:
        return []
    waiting = s.scalars(select(ExecutionRow).where(
        ExecutionRow.launch == 0, ExecutionRow.phase == ExecutionPhase.QUEUED.value,
    ).order_by(ExecutionRow.created_at, ExecutionRow.pk).with_for_update(skip_locked=True))
    tickets: list[LaunchTicket] = []
    free: dict[int, int | None] = {}  # launch plan version -> slots left (None: no limit)
    for row in waiting:
        if room is not None and len(tickets) >= room:
            break
        plan = row.launch_plan_pk
        if plan is not None:
            if plan not in free:
                free[plan] = _free_slots(s, plan)
            slots = free[plan]
            if slots is not None:
                if slots <= 0:
                    continue
                free[plan] = slots - 1
        tickets.append(launch(row, now))
    return tickets


def launch(row: ExecutionRow, now: dt.datetime) -> LaunchTicket:
    """Start a new launch of the execution: a driver to start, which must claim it."""
    row.launch += 1
    row.launched_at = now
    row.heartbeat_at = None
    return LaunchTicket(id_of(row), row.launch, row.code_uri)


def executions_waiting(s: Session) -> bool:
    """Whether any execution waits to be launched (for a start or launch plan slot)."""
    return s.scalar(select(ExecutionRow.pk).where(
        ExecutionRow.launch == 0, ExecutionRow.phase == ExecutionPhase.QUEUED.value,
    ).limit(1)) is not None


def _starting(s: Session) -> int:
    """Drivers launched that have not claimed their execution yet."""
    return s.scalar(select(func.count()).select_from(ExecutionRow).where(
        ExecutionRow.launch > 0, ExecutionRow.phase.in_(ACTIVE),
        ExecutionRow.heartbeat_at.is_(None))) or 0


def _free_slots(s: Session, plan_pk: int) -> int | None:
    """Slots a launch plan version has left (None: no limit). Its row is locked, so two
    admins never hand out the same slot."""
    plan = s.scalar(select(LaunchPlanRow).where(LaunchPlanRow.pk == plan_pk)
                    .with_for_update())
    assert plan is not None  # a foreign key
    if plan.max_parallel_executions is None:
        return None
    running = s.scalar(select(func.count()).select_from(ExecutionRow).where(
        ExecutionRow.launch_plan_pk == plan_pk, ExecutionRow.launch > 0,
        ExecutionRow.phase.in_(ACTIVE))) or 0
    return plan.max_parallel_executions - running


# --- read --------------------------------------------------------------------------------


def get_execution(s: Session, ident: ExecutionId) -> Execution:
    return record_of(s, get_row(s, ident))


def list_executions(s: Session, project: str, domain: str,
                    filters: ExecutionFilters | None = None,
                    options: ListOptions | None = None) -> Page[Execution]:
    """Executions of a project and domain, newest first unless asked otherwise."""
    filters = filters or ExecutionFilters()
    options = _paging.checked(options or ListOptions(), (SortKey.CREATED_AT, SortKey.NAME),
                              _paging.NEWEST_FIRST)
    require_domain(s, project, domain, registering=False)
    query = select(ExecutionRow).where(ExecutionRow.project == project,
                                       ExecutionRow.domain == domain)
    if filters.phases:
        query = query.where(ExecutionRow.phase.in_([p.value for p in filters.phases]))
    if filters.launch_plan is not None:
        check_part("name", filters.launch_plan)
        query = query.where(ExecutionRow.launch_plan_name == filters.launch_plan)
    if filters.created_after is not None:
        query = query.where(ExecutionRow.created_at > filters.created_after)
    if filters.created_before is not None:
        query = query.where(ExecutionRow.created_at < filters.created_before)
    query = execution_labels.where_labelled(query, filters.labels)
    query = summaries.where_entity(query, filters.workflow, filters.version)
    if options.name is not None:
        query = query.where(ExecutionRow.name == options.name)
    if options.name_contains is not None:
        query = query.where(ExecutionRow.name.contains(options.name_contains, autoescape=True))
    by_name = _paging.order(options)[0] is SortKey.NAME
    column = ExecutionRow.name if by_name else ExecutionRow.created_at
    rows = s.scalars(_paging.keyset(query, options, column, ExecutionRow.pk)).all()
    kept, token = _paging.page(rows, options, lambda r: (getattr(r, column.key), r.pk))
    return Page([record_of(s, r) for r in kept], token)


# --- terminate ---------------------------------------------------------------------------


def terminate_execution(s: Session, ident: ExecutionId, cause: str) -> tuple[Execution, int]:
    """Ask an execution to stop; returns it and the launch whose driver must be told
    (0: none, it ended here: it never started, or it is ABORTED already).

    Terminating an ABORTED execution again is a no-op; any other ended one is refused.
    """
    if not isinstance(cause, str) or len(cause) > _MAX_CAUSE or "\x00" in cause:
        raise InvalidArgumentError(f"cause must be text of at most {_MAX_CAUSE} characters")
    row = get_row(s, ident, lock=True)
    phase = ExecutionPhase(row.phase)
    if phase is ExecutionPhase.ABORTED:
        return record_of(s, row), 0
    if phase not in ACTIVE_PHASES:
        raise ExecutionEndedError(f"execution {ident} already ended {phase.value}; only a "
                                   "QUEUED or RUNNING execution can be terminated")
    if row.abort_cause is None:
        row.abort_cause = cause  # the first cause given wins; repeats change nothing
    if row.launch == 0:
        end(s, row, ExecutionPhase.ABORTED)
        return record_of(s, row), 0
    s.flush()
    return record_of(s, row), row.launch


def force_abort(s: Session, ident: ExecutionId) -> Execution:
    """End a terminated execution ABORTED when its driver did not confirm it."""
    row = get_row(s, ident, lock=True)
    if ExecutionPhase(row.phase) in ACTIVE_PHASES:
        end(s, row, ExecutionPhase.ABORTED)
    return record_of(s, row)


def end(s: Session, row: ExecutionRow, phase: ExecutionPhase, error: ErrorInfo | None = None,
        outputs: dict[str, Any] | None = None) -> None:
    """Close the execution; nodes still open are ABORTED, and the notifications its end
    fires are recorded (sent later, by the admin's notifier). The incarnation moves on,
    so a driver that still runs is refused from now on (fencing)."""
    now = db_now(s)
    row.phase = phase.value
    row.ended_at = now
    if row.started_at is None and phase is ExecutionPhase.SUCCEEDED:
        row.started_at = now
    if error is not None:
        row.error_kind, row.error_message = error.kind, error.message
    if outputs is not None:
        row.outputs = canonical_json(outputs)
    row.incarnation += 1
    row.take_seq()
    notifications.add_for_end(s, row, phase)
    _abort_open_nodes(s, row, now)
    s.flush()


def _abort_open_nodes(s: Session, row: ExecutionRow, now: dt.datetime) -> None:
    """Nodes still open become ABORTED, in one statement: each takes a change seq of its
    own, the execution's next ones offset by its key (gaps are harmless: the feed needs
    them increasing and unique, not dense)."""
    open_nodes = (NodeExecutionRow.execution_pk == row.pk,
                  NodeExecutionRow.phase.in_([NodePhase.QUEUED.value, NodePhase.RUNNING.value,
                                              NodePhase.WAITING.value]))
    first, last = s.execute(select(func.min(NodeExecutionRow.pk),
                                   func.max(NodeExecutionRow.pk)).where(*open_nodes)).one()
    if first is None:
        return
    base = row.change_seq + 1 - first
    s.execute(update(NodeExecutionRow).where(*open_nodes).values(
        phase=NodePhase.ABORTED.value, updated_at=now, seq=NodeExecutionRow.pk + base))
    row.change_seq = last + base
