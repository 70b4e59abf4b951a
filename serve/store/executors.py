"""Executors' reports of themselves: written by each executor, read by the API and
``flyray demo status``, pruned by the supervisor.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds them as ``AdminStore`` methods of the same name. Every time
here is the database's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serve.store._models import ExecutorRow
from serve.store.database import aware, db_now
from serve.store.executor_records import ExecutorBeat, ExecutorInfo


def report_executor(s: Session, beat: ExecutorBeat) -> None:
    """Record that the executor ``beat.name`` lives, with what it reports."""
    now = db_now(s)
    row = s.get(ExecutorRow, beat.name)
    if row is None:
        row = ExecutorRow(name=beat.name, started_at=now)
        s.add(row)
    row.project, row.domain, row.code_uri = beat.project, beat.domain, beat.code_uri
    row.warm, row.node_ip, row.pid = beat.warm, beat.node_ip, beat.pid
    row.in_flight, row.completed, row.heartbeat_at = beat.in_flight, beat.completed, now


def remove_executor(s: Session, name: str) -> None:
    """Forget the executor ``name`` (it is ending)."""
    s.execute(delete(ExecutorRow).where(ExecutorRow.name == name))


def list_executors(s: Session, stale_after_s: float) -> list[ExecutorInfo]:
    """Every executor that reported, by name; ``stale`` when its last report is older
    than ``stale_after_s``."""
    now = db_now(s)
    rows = s.scalars(select(ExecutorRow).order_by(ExecutorRow.name)).all()
    return [ExecutorInfo(
        ExecutorBeat(r.name, r.project, r.domain, r.code_uri, r.warm, r.node_ip, r.pid,
                     r.in_flight, r.completed),
        aware(r.started_at), aware(r.heartbeat_at),
        (now - aware(r.heartbeat_at)).total_seconds() > stale_after_s) for r in rows]


def prune_executors(s: Session, older_than_s: float) -> int:
    """Forget executors whose last report is older than ``older_than_s`` (they were
    killed, or their node was lost); returns how many."""
    cutoff = db_now(s) - dt.timedelta(seconds=older_than_s)
    result = s.execute(delete(ExecutorRow).where(ExecutorRow.heartbeat_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
