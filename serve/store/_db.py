"""Connections, transactions and migrations of the admin database.

SQLite (embedded default) runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue instead of
failing half-way; PostgreSQL runs at READ COMMITTED and takes row locks where an
operation needs them. A "database is locked", a deadlock or a unique-key race that
still escapes is retried a few times with the whole transaction, never surfaced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.catalog.sql import first_line, migrate, open_engines, retrying, safe_url
from serve.errors import StoreError
from serve.store._models import SchemaVersion

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
