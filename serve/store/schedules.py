"""Schedules: which launch plans are scheduled, firing their ticks exactly once, and the
scheduler's leader lease.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name
(:func:`lead_scheduler`, mostly a read, takes the database and runs its own).

Exactly once: a tick's execution is named after (launch plan name, scheduled time), and
``(project, domain, launch_plan_name, scheduled_at)`` is unique too; the tick and the
schedule's ``last_fired_at`` are written in one transaction, under a lock of the
schedule's row. Two schedulers, or one restarted half-way, so never fire a tick twice.
Scheduled times come from the scheduler's (injectable) clock; the lease uses the
database's.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine.dag.spec import Identifier, ResourceType, Schedule, schedule_from_dict
from engine.failpoints import hit
from serve.store import _paging, executions
from serve.store._models import LaunchPlanRow, SchedulerLeaderRow, ScheduleRow
from serve.store.database import Database, aware, db_now
from serve.store.execution_records import (
    ExecutionId,
    ExecutionMode,
    ExecutionRequest,
    TargetKind,
)
from serve.store.projects import require_domain
from serve.store.records import LaunchPlanState, ListOptions, Page, SortKey
from serve.store.schedule_records import Fired, ScheduledPlan, ScheduleState

_ACTIVE = LaunchPlanState.ACTIVE.value
_LEADER = 1


def execution_name(project: str, domain: str, name: str, scheduled_at: dt.datetime) -> str:
    """The name of the execution of one tick: the same for every scheduler, every time."""
    key = f"{project}/{domain}/{name}@{scheduled_at.astimezone(dt.timezone.utc).isoformat()}"
    return "s" + hashlib.sha256(key.encode()).hexdigest()[:19]


def _query() -> Any:
    """Active scheduled launch plan versions, with their name's schedule row if any."""
    same_name = and_(ScheduleRow.project == LaunchPlanRow.project,
                     ScheduleRow.domain == LaunchPlanRow.domain,
                     ScheduleRow.name == LaunchPlanRow.name)
    return select(LaunchPlanRow, ScheduleRow).outerjoin(ScheduleRow, same_name).where(
        LaunchPlanRow.state == _ACTIVE, LaunchPlanRow.schedule.is_not(None))


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Schedule:
    # Every pass reads every schedule; stored ones were checked when registered.
    return schedule_from_dict(json.loads(text))


def _plan(plan: LaunchPlanRow, state: ScheduleRow | None) -> ScheduledPlan:
    assert plan.schedule is not None  # the query's condition
    return ScheduledPlan(
        plan.pk, Identifier(ResourceType.LAUNCH_PLAN, plan.project, plan.domain, plan.name,
                            plan.version),
        _parsed(plan.schedule), aware(plan.state_updated_at),
        _state(state) if state is not None else None)


def _state(row: ScheduleRow) -> ScheduleState:
    last = (ExecutionId(row.project, row.domain, row.last_execution)
            if row.last_execution else None)
    return ScheduleState(row.launch_plan_pk, aware(row.activation), aware(row.anchor),
                         aware(row.last_fired_at) if row.last_fired_at else None, last)


def scheduled_plans(s: Session) -> list[ScheduledPlan]:
    """Every ACTIVE launch plan version that has a schedule, with its name's state (the
    scheduler's pass)."""
    return [_plan(plan, state) for plan, state in s.execute(_query()).all()]


def list_schedules(s: Session, project: str, domain: str,
                   options: ListOptions | None = None) -> Page[ScheduledPlan]:
    """The active schedules of a project and domain, by launch plan name."""
    options = _paging.checked(options or ListOptions(), (SortKey.NAME,), _paging.BY_NAME)
    require_domain(s, project, domain, registering=False)
    query = _query().where(LaunchPlanRow.project == project, LaunchPlanRow.domain == domain)
    if options.name is not None:
        query = query.where(LaunchPlanRow.name == options.name)
    if options.name_contains is not None:
        query = query.where(LaunchPlanRow.name.contains(options.name_contains,
                                                        autoescape=True))
    rows = s.execute(_paging.keyset(query, options, LaunchPlanRow.name, None)).all()
    kept, token = _paging.page(rows, options, lambda r: (r[0].name, None))
    return Page([_plan(plan, state) for plan, state in kept], token)


# --- firing -------------------------------------------------------------------------------


def fire_schedule(s: Session, plan: ScheduledPlan, now: dt.datetime, anchor: dt.datetime,
                  limit: int, blob_root: str | None = None,
                  max_starting: int | None = None) -> Fired:
    """Fire the ticks of ``plan`` due at ``now`` (at most ``limit``), each exactly once
    whoever else fires them: one SCHEDULED execution each, the scheduled time in the
    kickoff input. Returns what was fired and the drivers to start.

    Nothing happens unless the version is still ACTIVE in ``plan``'s activation. A new
    activation (the first, another version, or the same one again) starts the name's
    state: ticks count from ``anchor``, and never from before the last tick fired under
    the name, so a version switch does not repeat the tick the old version fired.
    Due ticks are those after the last fired one up to ``now``: the latest ``limit`` of
    them (catch-up) or only the latest (skip), oldest first.
    """
    fired = _fire(s, plan, now, anchor, limit, blob_root)
    if fired.times:
        s.flush()
        fired.tickets.extend(executions.dispatch_waiting(s, max_starting))
    return fired


def fire_schedules(s: Session, plans: list[ScheduledPlan], now: dt.datetime,
                   anchor: dt.datetime, limit: int, blob_root: str | None = None,
                   max_starting: int | None = None) -> list[Fired]:
    """:func:`fire_schedule` for each of ``plans``, in one transaction (a tick due for
    many launch plans at once is fired in a few writes, not one each); the drivers to
    start are on the last result. Any failure fails them all: fire them one by one then."""
    results = [_fire(s, plan, now, anchor, limit, blob_root) for plan in plans]
    if any(r.times for r in results):
        s.flush()
        results[-1].tickets.extend(executions.dispatch_waiting(s, max_starting))
    return results


def _fire(s: Session, plan: ScheduledPlan, now: dt.datetime, anchor: dt.datetime,
          limit: int, blob_root: str | None) -> Fired:
    """The ticks of ``plan`` due at ``now``, fired; see :func:`fire_schedule`."""
    row = s.scalar(select(LaunchPlanRow).where(LaunchPlanRow.pk == plan.pk)
                   .with_for_update())
    if row is None or row.state != _ACTIVE or row.schedule is None \
            or aware(row.state_updated_at) != plan.activation:
        return Fired()  # deactivated or replaced meanwhile: the next pass reads again
    schedule = _parsed(row.schedule)
    state = _locked_state(s, row, plan.activation, anchor)
    origin = aware(state.anchor)
    if state.last_fired_at is not None:
        origin = max(origin, aware(state.last_fired_at))
    times = schedule.due_times(origin, now, limit if schedule.catch_up else 1)
    fired = Fired()
    for moment in times:
        hit("scheduler.before_insert")
        fired.executions.append(_execution(s, row, moment, schedule.kickoff_time_input_arg,
                                           blob_root))
        # A crash here loses the insert with the snapshot below: they commit together.
        hit("scheduler.after_insert")
        fired.times.append(moment)
        state.last_fired_at = moment
        state.last_execution = fired.executions[-1].name
    return fired


def _locked_state(s: Session, plan: LaunchPlanRow, activation: dt.datetime,
                  anchor: dt.datetime) -> ScheduleRow:
    """The name's schedule row, locked, following this activation of ``plan``."""
    state = s.scalar(select(ScheduleRow).where(
        ScheduleRow.project == plan.project, ScheduleRow.domain == plan.domain,
        ScheduleRow.name == plan.name).with_for_update())
    if state is None:
        # A concurrent insert of the same row fails the transaction, which is run again.
        state = ScheduleRow(project=plan.project, domain=plan.domain, name=plan.name,
                            launch_plan_pk=plan.pk, activation=activation, anchor=anchor)
        s.add(state)
        s.flush()
    elif (state.launch_plan_pk, aware(state.activation)) != (plan.pk, activation):
        state.launch_plan_pk = plan.pk
        state.activation = activation
        state.anchor = anchor
    return state


def _execution(s: Session, plan: LaunchPlanRow, moment: dt.datetime, kickoff: str | None,
               blob_root: str | None) -> ExecutionId:
    """The execution of one tick (created unless it exists: then it was fired before)."""
    ident = ExecutionId(plan.project, plan.domain,
                        execution_name(plan.project, plan.domain, plan.name, moment))
    if executions.find(s, ident) is not None:
        return ident
    inputs = {kickoff: moment.isoformat()} if kickoff else {}
    request = ExecutionRequest(plan.project, plan.domain, ident.name, TargetKind.LAUNCH_PLAN,
                               plan.name, plan.version, inputs)
    row, _ = executions.create_row(s, request, blob_root)
    row.mode = ExecutionMode.SCHEDULED.value
    row.scheduled_at = moment
    return ident


# --- the leader ---------------------------------------------------------------------------


def lead_scheduler(database: Database, holder: str, lease_s: float) -> bool:
    """Take or renew the scheduler's leader lease for ``holder`` (``lease_s`` seconds
    of the database's clock); False while another scheduler holds it. Mostly a read:
    the lease is written when taken and when half of it has run out."""
    write = database.run(lambda s: _needs_write(s, holder, lease_s), write=False)
    if write is None:
        return False
    if not write:
        return True
    return database.run(lambda s: _lead(s, holder, lease_s), write=True)


def _needs_write(s: Session, holder: str, lease_s: float) -> bool | None:
    """Whether ``holder`` must write to lead: None when another scheduler holds the
    lease, False when ``holder`` holds it for more than half of ``lease_s`` still (no
    renewal yet), True when it must take or renew it."""
    row = s.get(SchedulerLeaderRow, _LEADER)
    if row is None:
        return True
    left = (aware(row.expires_at) - db_now(s)).total_seconds()
    if row.holder != holder:
        return True if left <= 0 else None
    return left <= lease_s / 2


def _lead(s: Session, holder: str, lease_s: float) -> bool:
    """Take or renew the lease for ``lease_s`` seconds of the database's clock; False
    while another scheduler holds it."""
    row = s.scalar(select(SchedulerLeaderRow).where(SchedulerLeaderRow.id == _LEADER)
                   .with_for_update())
    now = db_now(s)
    if row is None:  # a database migrated before the row existed cannot happen; be safe
        row = SchedulerLeaderRow(id=_LEADER, holder=holder, expires_at=now)
        s.add(row)
    elif row.holder != holder and aware(row.expires_at) > now:
        return False
    row.holder = holder
    row.expires_at = now + dt.timedelta(seconds=lease_s)
    return True


def resign_scheduler(s: Session, holder: str) -> None:
    """Give up the leader lease, if ``holder`` has it (a scheduler that stops), so
    another takes over at once."""
    row = s.scalar(select(SchedulerLeaderRow).where(SchedulerLeaderRow.id == _LEADER)
                   .with_for_update())
    if row is not None and row.holder == holder:
        row.expires_at = db_now(s)
