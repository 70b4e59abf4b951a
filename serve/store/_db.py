"""Connections, transactions and migrations of the admin database.

SQLite (embedded default) runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue instead of
failing half-way; PostgreSQL runs at READ COMMITTED and takes row locks where an
operation needs them. A "database is locked", a deadlock or a unique-key race that
still escapes is retried a few times with the whole transaction, never surfaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from engine.catalog.sql import first_line, migrate, open_engines, safe_url
from serve.errors import AdminError, StoreError
from serve.store._models import SchemaVersion

R = TypeVar("R")
Migration = Callable[[Connection], None]

# Key of the PostgreSQL advisory lock that serializes migrations of the admin schema
# (the data catalog uses another one, so both may share a database).
_MIGRATION_LOCK = 727275
_ATTEMPTS = 30
_INTEGRITY_ATTEMPTS = 5
# PostgreSQL SQLSTATEs worth running the transaction again for.
_RETRYABLE_STATES = {"40001", "40P01"}  # serialization failure, deadlock


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
        """``fn`` in a transaction of its own, run again when the database asks for it.

        Errors of the API (``AdminError``) pass through; any other database failure
        becomes a ``StoreError``.
        """
        delay = 0.01
        for attempt in range(_ATTEMPTS):
            try:
                with self.session(write) as session:
                    return fn(session)
            except AdminError:
                raise
            except (OperationalError, IntegrityError, DBAPIError) as e:
                # A unique-key race resolves on the next attempt; one that persists is a
                # real violation, reported after a few tries.
                last = _INTEGRITY_ATTEMPTS if isinstance(e, IntegrityError) else _ATTEMPTS
                if not _retryable(e) or attempt >= last - 1:
                    raise StoreError(f"admin database at {safe_url(self.url)}: "
                                     f"{first_line(e)}") from e
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except SQLAlchemyError as e:
                raise StoreError(f"admin database at {safe_url(self.url)}: "
                                 f"{first_line(e)}") from e
        raise AssertionError("unreachable")

    def migrate(self, migrations: list[tuple[int, Migration]]) -> int:
        """Apply the migrations not applied yet, in order; returns the schema version.

        Safe when several processes open one database at once: PostgreSQL serializes
        them with an advisory lock, SQLite with its write lock (BEGIN IMMEDIATE). A
        migration and the version that records it commit together.
        """
        return self.run(lambda s: migrate(s, migrations, SchemaVersion, _MIGRATION_LOCK),
                        write=True)


def _retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True  # a concurrent insert of the same key won; the retry sees its row
    state = getattr(error.orig, "sqlstate", None)
    return "locked" in str(error).lower() or state in _RETRYABLE_STATES
