"""The admin database: connections, transactions, migrations, and the clocks of stored times.

SQLite (embedded default) runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue instead of
failing half-way; PostgreSQL runs at READ COMMITTED and takes row locks where an
operation needs them. A "database is locked", a deadlock or a unique-key race that
still escapes is retried a few times with the whole transaction, never surfaced.

The methods of :class:`serve.store.AdminStore` are data functions of the resource
modules (each takes the session first) bound by :func:`read_only` or :func:`read_write`,
so each runs as one such transaction.

Leases, heartbeats and execution times are read from the database's clock
(:func:`db_now`), so every process (admin replicas, drivers on other machines) compares
times of one clock.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.catalog.sql import first_line, migrate, open_engines, retrying, safe_url
from serve.errors import StoreError
from serve.store._models import SchemaVersion

P = ParamSpec("P")
R = TypeVar("R")
Migration = Callable[[Connection], None]

# Key of the PostgreSQL advisory lock that serializes migrations of the admin schema
# (the data catalog uses another one, so both may share a database).
_MIGRATION_LOCK = 727275


class Database:
    """One admin database: a read engine and a write engine (the same on PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        try:
            self._read, self._write = open_engines(url)
        except (SQLAlchemyError, OSError, ValueError) as e:
            raise StoreError(f"cannot open the admin database at {safe_url(url)}: "
                             f"{first_line(e)}") from e

    def close(self) -> None:
        self._read.dispose()
        self._write.dispose()

    @contextmanager
    def session(self, write: bool) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        engine = self._write if write else self._read
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    def run(self, fn: Callable[[Session], R], write: bool) -> R:
        """``fn`` in a transaction of its own, run again when the database asks for it
        (``engine.catalog.sql.retrying``). Errors of the API (``AdminError``) pass
        through; any other database failure becomes a ``StoreError``."""

        def transaction() -> R:
            with self.session(write) as session:
                return fn(session)

        return retrying(transaction, lambda e: StoreError(
            f"admin database at {safe_url(self.url)}: {first_line(e)}"))

    def migrate(self, migrations: list[tuple[int, Migration]]) -> int:
        """Apply the migrations not applied yet, in order; returns the schema version.

        Safe when several processes open one database at once: PostgreSQL serializes
        them with an advisory lock, SQLite with its write lock (BEGIN IMMEDIATE). A
        migration and the version that records it commit together.
        """
        return self.run(lambda s: migrate(s, migrations, SchemaVersion, _MIGRATION_LOCK),
                        write=True)


# --- store methods ---------------------------------------------------------------------


class HasDatabase(Protocol):
    """What a store method needs of its store."""

    @property
    def database(self) -> Database: ...


def read_only(fn: Callable[Concatenate[Session, P], R]
              ) -> Callable[Concatenate[HasDatabase, P], R]:
    """A store method that runs the data function ``fn`` in one read transaction."""
    return _method(fn, write=False)


def read_write(fn: Callable[Concatenate[Session, P], R]
               ) -> Callable[Concatenate[HasDatabase, P], R]:
    """A store method that runs the data function ``fn`` in one write transaction."""
    return _method(fn, write=True)


def _method(fn: Callable[Concatenate[Session, P], R],
            write: bool) -> Callable[Concatenate[HasDatabase, P], R]:
    def method(store: HasDatabase, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return store.database.run(lambda s: fn(s, *args, **kwargs), write=write)

    # The data function's name, docstring and (through __wrapped__) signature, so that
    # help() and inspect.signature() on the bound method show what a caller passes.
    functools.update_wrapper(method, fn)
    return method


def select_one(s: Session) -> None:
    """Run ``SELECT 1``: raises StoreError (through ``Database.run``) unless the database
    answers."""
    s.execute(text("SELECT 1"))


# --- clocks ----------------------------------------------------------------------------


def db_now(s: Session) -> dt.datetime:
    """The database server's current time (UTC, aware)."""
    if s.get_bind().dialect.name == "sqlite":
        raw = s.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        return dt.datetime.fromisoformat(str(raw)).replace(tzinfo=dt.timezone.utc)
    moment = s.scalar(text("SELECT clock_timestamp()"))
    assert isinstance(moment, dt.datetime)  # PostgreSQL's timestamptz
    return moment.astimezone(dt.timezone.utc)


def now() -> dt.datetime:
    """This process's time (UTC, aware): when projects and entities were registered,
    which no other process compares against its own."""
    return dt.datetime.now(dt.timezone.utc)


def aware(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC time: SQLite returns naive ones, and every stored
    time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
