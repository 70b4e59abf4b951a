"""Opening the admin database: numbered migrations applied once, by whichever process comes
first; reopening is a no-op that keeps the data. Over SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from engine import CronSchedule
from engine.dag.run.state import NodePhase
from serve.store import AdminStore
from serve.store._migrations import MIGRATIONS
from serve.store.database import Database
from tests.fixtures import basic_wfs, map_wfs
from tests.serve.scheduling import HOUR, T0, plan, register_stamped, scheduler, ticks

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


def database_before(url: str, version: int, undo: list[str]) -> None:
    """A database as it was at ``version``: migrated that far, then ``undo`` run to take
    away what later migrations add (migration 3 makes the executions tables from today's
    model, which has it already)."""
    old = Database(url)
    try:
        assert old.migrate(MIGRATIONS[:version]) == version
        with old.session(write=True) as s:
            for statement in undo:
                s.execute(text(statement))
    finally:
        old.close()


def columns_and_indexes(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return ({c["name"] for c in found.get_columns(table)}
                | {i["name"] for i in found.get_indexes(table) if i["name"]})
    finally:
        engine.dispose()


def test_a_database_from_before_schedules_gets_them(admin_url: str, tmp_path: Path) -> None:
    database_before(admin_url, 3, ["DROP INDEX admin_executions_one_per_tick",
                                   "ALTER TABLE admin_executions DROP COLUMN scheduled_at"])
    store = AdminStore(admin_url)
    try:
        assert store.schema_version >= 4
        assert {"scheduled_at", "admin_executions_one_per_tick"} <= columns_and_indexes(
            admin_url, "admin_executions")
        plan(store, register_stamped(store), CronSchedule(
            schedule="@hourly", kickoff_time_input_arg="kickoff_time"))
        clock = scheduler(store, tmp_path)
        clock.tick(T0)
        clock.tick(T0 + HOUR)
        assert ticks(store, "stamps") == [T0 + HOUR]
    finally:
        store.close()


def test_a_database_from_before_timeouts_and_node_inputs_gets_them(admin_url: str) -> None:
    database_before(admin_url, 4, ["ALTER TABLE admin_executions DROP COLUMN timeout_s",
                                   "ALTER TABLE admin_node_executions DROP COLUMN inputs"])
    store = AdminStore(admin_url)
    try:
        assert store.schema_version >= 5
        assert "timeout_s" in columns_and_indexes(admin_url, "admin_executions")
        assert "inputs" in columns_and_indexes(admin_url, "admin_node_executions")
    finally:
        store.close()


def test_a_database_from_before_decks_gets_them(admin_url: str) -> None:
    database_before(admin_url, 9, ["ALTER TABLE admin_node_attempts DROP COLUMN deck_uri"])
    store = AdminStore(admin_url)
    try:
        assert store.schema_version >= 10
        assert "deck_uri" in columns_and_indexes(admin_url, "admin_node_attempts")
    finally:
        store.close()


def test_a_database_from_before_the_change_feed_numbers_its_rows(admin_url: str) -> None:
    """Migration 11 on a database holding an execution: its nodes and attempts get
    numbers unique within it, its counter above them, and the feed goes on from there."""
    from tests.console.seed import register, seed_execution, seed_small

    store = AdminStore(admin_url)
    try:
        ident = seed_small(store)
        mapped = seed_execution(store, register(store, map_wfs.with_partial), "mapped",
                                inputs={"xs": [1, 2]}, nodes={"n0": NodePhase.SUCCEEDED},
                                children={"n0": {"0": NodePhase.SUCCEEDED,
                                                 "1": NodePhase.FAILED}})
    finally:
        store.close()
    engine = create_engine(admin_url)
    try:
        with engine.begin() as conn:
            for statement in ["DROP INDEX admin_node_executions_by_seq",
                              "DROP INDEX admin_node_attempts_by_seq",
                              "ALTER TABLE admin_node_executions DROP COLUMN seq",
                              "ALTER TABLE admin_node_executions DROP COLUMN child_counts",
                              "ALTER TABLE admin_node_attempts DROP COLUMN seq",
                              "ALTER TABLE admin_node_attempts DROP COLUMN log_uri",
                              "ALTER TABLE admin_executions DROP COLUMN change_seq",
                              "UPDATE admin_schema_version SET version = 10"]:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    store = AdminStore(admin_url)
    try:
        assert store.schema_version >= 11
        assert {"seq", "log_uri", "admin_node_attempts_by_seq"} <= columns_and_indexes(
            admin_url, "admin_node_attempts")
        changes = store.execution_changes(ident, 0)
        numbers = [n.seq for n in changes.nodes] + [a.seq for a in changes.attempts]
        assert len(changes.nodes) == 5 and len(changes.attempts) == 6
        assert len(set(numbers)) == len(numbers) and max(numbers) == changes.seq
        assert store.get_node_execution(ident, "n1").attempts[0].log_uri is None
        counts = store.execution_changes(mapped, 0).nodes[0].children
        assert counts == {"SUCCEEDED": 1, "FAILED": 1}
    finally:
        store.close()
