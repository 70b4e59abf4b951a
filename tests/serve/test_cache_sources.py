"""A cache HIT names the execution that computed its outputs: the driver tells the admin
its run's name (ExecutionStarted), a HIT's attempt carries the producer's run and node,
and reads resolve the run to its execution. Over SQLite and PostgreSQL (store, migration
12), and end to end on the shared Ray cluster (two executions of a cached task)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from engine.dag.run.state import ExecutionPhase, NodePhase
from serve.store import AdminStore
from serve.store.execution_records import (
    AttemptEvent,
    CacheSource,
    ExecutionId,
    ExecutionStarted,
    NodeAttempt,
    NodeEvent,
)
from tests.console import seed
from tests.fixtures import remote_wfs
from tests.serve.remote import launch_workflow, nodes, wait_for
from tests.serve.specs import DOMAIN, PROJECT

pytestmark = pytest.mark.timeout(120)


def producer_and_hit(store: AdminStore, source_run: str) -> tuple[ExecutionId, ExecutionId]:
    """Execution "first" driven as run "fprod" (twice told: events are written again
    after a failed batch), and "second" whose node n0 took a HIT from ``source_run``."""
    wf = seed.register(store, seed.pipeline)
    first = seed.seed_running(store, wf, "first", nodes={"n0": NodePhase.SUCCEEDED})
    store.record_events(first.id, first.incarnation, [ExecutionStarted("fprod")] * 2)
    store.finish_execution(first.id, first.incarnation, ExecutionPhase.SUCCEEDED, None)
    second = seed.seed_running(store, wf, "second", nodes={})
    hit = NodeAttempt(1, second.started_at, second.started_at + 0.1, NodePhase.SUCCEEDED,
                      None, None, "HIT", {}, cache_source=CacheSource(source_run, "n0"))
    store.record_events(second.id, second.incarnation, [
        ExecutionStarted("fsecond"),
        NodeEvent("n0", "load", 0, NodePhase.SUCCEEDED), AttemptEvent("n0", hit)])
    return first.id, second.id


def test_a_hit_resolves_to_the_execution_whose_run_produced_it(store: AdminStore) -> None:
    first, second = producer_and_hit(store, "fprod")
    [attempt] = store.get_node_execution(second, "n0").attempts
    assert attempt.cache_source == CacheSource("fprod", "n0", first)
    [listed] = store.list_node_executions(second)
    assert listed.attempts == (attempt,)
    # The producer's own attempt was no HIT: no source.
    assert store.get_node_execution(first, "n0").attempts[0].cache_source is None


def test_a_hit_from_a_run_this_admin_never_drove_has_no_execution(store: AdminStore) -> None:
    _, second = producer_and_hit(store, "flocal0123456789abcd")
    [attempt] = store.get_node_execution(second, "n0").attempts
    assert attempt.cache_source == CacheSource("flocal0123456789abcd", "n0", None)


def test_a_database_from_before_cache_sources_gets_them(admin_url: str) -> None:
    """Migration 12 on a database at 11 holding attempts: they read without a source, and
    the runs told afterwards resolve."""
    store = AdminStore(admin_url)
    try:
        small = seed.seed_small(store)
    finally:
        store.close()
    engine = create_engine(admin_url)
    try:
        with engine.begin() as conn:
            for statement in ["DROP TABLE admin_execution_runs",
                              "ALTER TABLE admin_node_attempts DROP COLUMN cache_source",
                              "UPDATE admin_schema_version SET version = 11"]:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    store = AdminStore(admin_url)
    try:
        assert store.schema_version == 12
        assert all(a.cache_source is None for n in store.list_node_executions(small)
                   for a in n.attempts)
        first, second = producer_and_hit(store, "fprod")
        assert store.get_node_execution(second, "n0").attempts[0].cache_source == \
            CacheSource("fprod", "n0", first)
    finally:
        store.close()


def test_a_second_remote_execution_hits_the_cache_the_first_filled(
        remote_sqlite: TestClient) -> None:
    """Two executions of a workflow with a cached task on Ray: the second's HIT names the
    first execution (and its run and node) in the API and links it in the node panel."""
    remote = remote_sqlite
    first = launch_workflow(remote, remote_wfs.square_plus_one, inputs={"x": 11},
                            name="producer")["id"]["name"]
    wait_for(remote, first)
    second = launch_workflow(remote, remote_wfs.square_plus_one, inputs={"x": 11},
                             name="consumer")["id"]["name"]
    wait_for(remote, second)
    [made] = nodes(remote, first)["n0"]["attempts"]
    assert made["cache_status"] == "MISS" and made["cache_source"] is None
    [hit] = nodes(remote, second)["n0"]["attempts"]
    assert hit["cache_status"] == "HIT"
    source = hit["cache_source"]
    assert source["execution"] == {"project": PROJECT, "domain": DOMAIN, "name": first}
    assert source["node_id"] == "n0" and source["run"].startswith("f")
    executions = f"/console/projects/{PROJECT}/domains/{DOMAIN}/executions"
    panel = remote.get(f"{executions}/{second}/nodes/n0")
    assert panel.status_code == 200, panel.text
    assert f'href="{executions}/{first}?node=n0"' in panel.text
