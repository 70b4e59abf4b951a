"""SQLAlchemy engines for Flyray's databases (the data catalog, the admin store).

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys
on, and write transactions start with ``BEGIN IMMEDIATE``, so two writers queue
instead of failing half-way; it gets one engine for reads and one for writes.
PostgreSQL gets one pooled engine for both. A transaction the database turns away
for a moment (locked, deadlock, a lost unique-key race) is run again whole:
:func:`retrying`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

R = TypeVar("R")

_ATTEMPTS = 30
_INTEGRITY_ATTEMPTS = 5
# PostgreSQL SQLSTATEs worth running the transaction again for.
_RETRYABLE_STATES = {"40001", "40P01"}  # serialization failure, deadlock


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


def retrying(transaction: Callable[[], R], failure: Callable[[SQLAlchemyError], Exception]) -> R:
    """Run ``transaction`` (one whole transaction, begun and ended inside) again when the
    database asks for it: SQLite locked, a PostgreSQL deadlock or serialization failure,
    or a unique-key race (a concurrent insert of the same key won: the next attempt sees
    its row; one that persists is a real violation, given up after a few tries). Any
    other database failure, or one that outlasts the attempts, raises
    ``failure(error)``; errors of the caller's own pass through."""
    delay = 0.01
    for attempt in range(_ATTEMPTS):
        try:
            return transaction()
        except DBAPIError as e:
            last = _INTEGRITY_ATTEMPTS if isinstance(e, IntegrityError) else _ATTEMPTS
            if not _retryable(e) or attempt >= last - 1:
                raise failure(e) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except SQLAlchemyError as e:
            raise failure(e) from e
    raise AssertionError("unreachable")


def _retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True
    state = getattr(error.orig, "sqlstate", None)
    return "locked" in str(error).lower() or state in _RETRYABLE_STATES
