"""Opening the admin database: numbered migrations applied once, by whichever process comes
first; reopening is a no-op that keeps the data. Over SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from serve.store import AdminStore
from serve.store._db import Database
from serve.store._migrations import MIGRATIONS
from tests.fixtures import basic_wfs

ROOT = Path(__file__).resolve().parents[2]
OPENERS = 4


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query))]
    finally:
        engine.dispose()


def test_first_open_applies_every_migration_and_reopening_is_a_no_op(admin_url: str) -> None:
    first = AdminStore(admin_url)
    try:
        assert first.schema_version == MIGRATIONS[-1][0]
        first.register_task(basic_wfs.add.spec())
    finally:
        first.close()
    again = AdminStore(admin_url)
    try:
        assert again.schema_version == MIGRATIONS[-1][0]
        assert len(again.list_entities("task", "flytesnacks", "development").items) == 1
    finally:
        again.close()
    assert rows(admin_url, "SELECT id, version FROM admin_schema_version") == [
        (1, MIGRATIONS[-1][0])]
    assert rows(admin_url, "SELECT id FROM admin_projects") == [("flytesnacks",)]
    assert rows(admin_url, "SELECT count(*) FROM admin_domains") == [(3,)]


def test_a_database_at_an_older_version_gets_only_the_newer_migrations(admin_url: str) -> None:
    old = Database(admin_url)
    try:
        assert old.migrate(MIGRATIONS[:1]) == 1
    finally:
        old.close()
    assert rows(admin_url, "SELECT count(*) FROM admin_projects") == [(0,)]

    store = AdminStore(admin_url)
    try:
        assert store.schema_version == MIGRATIONS[-1][0]
        assert store.get_project("flytesnacks").domains[0].id == "development"
    finally:
        store.close()


def test_processes_opening_a_new_database_at_once_migrate_it_once(admin_url: str) -> None:
    opener = ("import sys; from serve.store import AdminStore; "
              "AdminStore(sys.argv[1]).close()")
    procs = [subprocess.Popen([sys.executable, "-c", opener, admin_url], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(OPENERS)]
    for proc in procs:
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
    assert rows(admin_url, "SELECT version FROM admin_schema_version") == [
        (MIGRATIONS[-1][0],)]
    assert rows(admin_url, "SELECT id FROM admin_projects") == [("flytesnacks",)]
