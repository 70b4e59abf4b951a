"""SQLAlchemy engines for Flyray's databases (the data catalog, the admin store).

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys
on, and write transactions start with ``BEGIN IMMEDIATE``, so two writers queue
instead of failing half-way; it gets one engine for reads and one for writes.
PostgreSQL gets one pooled engine for both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session


def open_engines(url: str) -> tuple[Engine, Engine]:
    """The read and the write engine of ``url`` (one engine twice on PostgreSQL); the
    directory of a SQLite file is created. Raises SQLAlchemy's or the OS's errors."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True)
        return engine, engine
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return _sqlite(url, immediate=False), _sqlite(url, immediate=True)


def _sqlite(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<unparsable database URL>"


def first_line(error: BaseException) -> str:
    """The first line of a database error (the driver's own message when there is one)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def migrate(session: Session, migrations: Sequence[tuple[int, Callable[[Connection], None]]],
            version_table: Any, lock_key: int) -> int:
    """Apply the numbered ``migrations`` newer than the version ``version_table`` (a
    one-row model: id 1, version) records, in ``session``'s transaction; returns the
    version reached. Concurrent openers queue: PostgreSQL on the advisory lock
    ``lock_key``, SQLite on its write lock (the session must write)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
    version_table.__table__.create(conn, checkfirst=True)
    row = session.get(version_table, 1)
    current = row.version if row else 0
    for version, migration in migrations:
        if version > current:
            migration(conn)
            current = version
    if row is None:
        session.add(version_table(id=1, version=current))
    else:
        row.version = current
    return int(current)
