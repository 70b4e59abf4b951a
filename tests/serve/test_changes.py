"""The change feed of an execution: deltas after a cursor, numbered in write order, paged
by a limit, terminal only once caught up. In the store (SQLite and PostgreSQL) and through
``GET /api/v1/executions/{p}/{d}/{name}/changes``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.dag.run.state import ExecutionPhase, NodePhase
from serve.store import AdminStore
from serve.store.change_records import ExecutionChanges, headline
from serve.store.execution_records import (
    AttemptEvent,
    ErrorInfo,
    ExecutionId,
    NodeAttempt,
    NodeEvent,
)
from tests.console.seed import TRACEBACK, Seeded, pipeline, register, seed_big, seed_running

pytestmark = pytest.mark.timeout(60)


def running(store: AdminStore, name: str = "feed") -> Seeded:
    """The five-task pipeline, running: n0 succeeded, n1 running its first attempt."""
    return seed_running(store, register(store, pipeline), name,
                        nodes={"n0": NodePhase.SUCCEEDED, "n1": NodePhase.RUNNING})


def seqs(changes: ExecutionChanges) -> list[int]:
    return sorted([n.seq for n in changes.nodes] + [a.seq for a in changes.attempts])


def test_since_zero_gives_everything_in_write_order(store: AdminStore) -> None:
    seeded = running(store)
    changes = store.execution_changes(seeded.id, 0)
    assert changes.phase is ExecutionPhase.RUNNING and changes.started_at is not None
    assert [n.node_id for n in changes.nodes] == ["n0", "n1"]
    assert [(a.node_id, a.attempt.outcome) for a in changes.attempts] == [
        ("n0", NodePhase.SUCCEEDED), ("n1", None)]
    numbers = seqs(changes)
    assert len(set(numbers)) == len(numbers) and numbers[-1] <= changes.seq
    assert not changes.more and not changes.terminal


def test_a_delta_holds_only_what_was_written_after_the_cursor(store: AdminStore) -> None:
    seeded = running(store)
    cursor = store.execution_changes(seeded.id, 0).seq
    assert store.execution_changes(seeded.id, cursor).nodes == ()

    store.record_events(seeded.id, seeded.incarnation, [
        NodeEvent("n1", "tests.console.seed.clean", 1, NodePhase.FAILED, "USER", TRACEBACK),
        AttemptEvent("n1", NodeAttempt(1, seeded.started_at, seeded.started_at + 2,
                                       NodePhase.FAILED, "USER", TRACEBACK, None, {},
                                       log_uri="file:///logs/feed/n1/1"))])
    delta = store.execution_changes(seeded.id, cursor)
    assert [(n.node_id, n.phase, n.error) for n in delta.nodes] == [
        ("n1", NodePhase.FAILED, "ValueError: boom")]
    assert [(a.node_id, a.attempt.attempt, a.attempt.error, a.attempt.log_uri)
            for a in delta.attempts] == [("n1", 1, "ValueError: boom",
                                          "file:///logs/feed/n1/1")]
    assert min(seqs(delta)) > cursor and delta.seq == max(seqs(delta))
    assert store.execution_changes(seeded.id, delta.seq).attempts == ()


def test_an_attempt_that_ends_quiet_keeps_no_log(store: AdminStore) -> None:
    """The driver names a running attempt's log; a successful attempt that printed and
    logged nothing stored none (engine.logs), and its end says so."""
    seeded = running(store)
    start = seeded.started_at
    store.record_events(seeded.id, seeded.incarnation, [AttemptEvent("n1", NodeAttempt(
        2, start, None, None, None, None, None, {}, log_uri="file:///logs/feed/n1/2"))])
    running_attempt = store.get_node_execution(seeded.id, "n1").attempts[-1]
    assert running_attempt.log_uri == "file:///logs/feed/n1/2"
    store.record_events(seeded.id, seeded.incarnation, [AttemptEvent("n1", NodeAttempt(
        2, start, start + 1, NodePhase.SUCCEEDED, None, None, "DISABLED", {}))])
    attempt = store.get_node_execution(seeded.id, "n1").attempts[-1]
    assert (attempt.outcome, attempt.log_uri) == (NodePhase.SUCCEEDED, None)


def test_pages_of_a_limit_cover_everything_once_and_only_the_last_is_terminal(
        store: AdminStore) -> None:
    seeded = running(store)
    store.finish_execution(seeded.id, seeded.incarnation, ExecutionPhase.FAILED,
                           ErrorInfo("USER", TRACEBACK))
    everything = store.execution_changes(seeded.id, 0)
    assert everything.terminal and everything.error is not None
    assert [n.phase for n in everything.nodes] == [NodePhase.SUCCEEDED, NodePhase.ABORTED]

    seen, cursor, pages = [], 0, []
    while True:
        page = store.execution_changes(seeded.id, cursor, limit=1)
        pages.append(page)
        seen += seqs(page)
        assert page.terminal is not page.more
        if not page.more:
            break
        assert len(seqs(page)) == 1 and page.seq == seqs(page)[0] > cursor
        cursor = page.seq
    assert seen == seqs(everything)
    assert [p.terminal for p in pages] == [False] * (len(pages) - 1) + [True]


def test_an_unknown_execution_and_a_bad_cursor_are_refused(store: AdminStore) -> None:
    with pytest.raises(LookupError, match="missing"):
        store.execution_changes(ExecutionId("flytesnacks", "development", "missing"), 0)
    seeded = running(store)
    with pytest.raises(ValueError, match="since"):
        store.execution_changes(seeded.id, -1)
    with pytest.raises(ValueError, match="limit"):
        store.execution_changes(seeded.id, 0, limit=0)


def test_the_api_answers_deltas(client: TestClient, store: AdminStore) -> None:
    seeded = running(store)
    path = f"/api/v1/executions/{seeded.id}/changes"
    first = client.get(path).json()
    assert first["execution"]["phase"] == "RUNNING" and first["terminal"] is False
    assert [n["node_id"] for n in first["nodes"]] == ["n0", "n1"]
    assert first["nodes"][0]["children"] == {} and first["attempts"][1]["ended_at"] is None

    store.record_events(seeded.id, seeded.incarnation, [AttemptEvent("n1", NodeAttempt(
        1, seeded.started_at, None, None, None, None, None, {"pid": 7},
        log_uri="file:///x/logs/feed/n1/1"))])
    delta = client.get(path, params={"since": first["seq"]}).json()
    assert delta["nodes"] == [] and [a["log_url"] for a in delta["attempts"]] == [
        "/api/v1/logs/flytesnacks/development/feed/n1?attempt=1"]
    assert delta["attempts"][0]["seq"] == delta["seq"] > first["seq"]

    assert client.get(path, params={"since": -1}).status_code == 400
    assert client.get(path, params={"limit": 0}).status_code == 400
    missing = client.get("/api/v1/executions/flytesnacks/development/nope/changes")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def test_a_headline_is_the_first_line_or_a_tracebacks_exception() -> None:
    assert headline("ConnectionError: try again\nmore") == "ConnectionError: try again"
    assert headline(TRACEBACK) == "ValueError: boom"
    assert headline("x" * 1000) == "x" * 300
    assert headline(None) is None


def test_a_delta_of_a_big_execution_holds_only_the_change(store: AdminStore) -> None:
    """2,000 nodes and a 10,000-element map: after the cursor only the map node was
    written, and the delta is that node, its children counted by phase."""
    seeded = seed_big(store)
    cursor = store.execution_changes(seeded.id, 0, limit=10_000).seq
    store.record_events(seeded.id, seeded.incarnation, [NodeEvent(
        "n0", "tests.console.seed.square", 0, NodePhase.RUNNING)])
    delta = store.execution_changes(seeded.id, cursor)
    assert [n.node_id for n in delta.nodes] == ["n0"] and delta.attempts == ()
    assert delta.nodes[0].children == {"SUCCEEDED": 9996, "FAILED": 1, "RUNNING": 3}
