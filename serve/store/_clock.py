"""The database's clock: leases, heartbeats and execution times are read from it, so
every process (admin replicas, drivers on other machines) compares times of one clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session


def db_now(s: Session) -> dt.datetime:
    """The database server's current time (UTC, aware)."""
    if s.get_bind().dialect.name == "sqlite":
        raw = s.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        return dt.datetime.fromisoformat(str(raw)).replace(tzinfo=dt.timezone.utc)
    moment = s.scalar(text("SELECT clock_timestamp()"))
    assert isinstance(moment, dt.datetime)  # PostgreSQL's timestamptz
    return moment.astimezone(dt.timezone.utc)
