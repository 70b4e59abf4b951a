"""Task logs through the admin API: logs written with ``engine.logs`` into the server's
blob store, read as JSON (whole, from a byte offset, or a tail) and followed as a stream
that ends when the attempt's log is complete; node executions link them."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from engine.catalog.blob import BlobStore
from engine.dag.run.state import NodePhase
from engine.logs.store import attempt_log_uri
from engine.logs.writer import LogWriter
from serve.store import AdminStore
from serve.store.execution_records import AttemptEvent, NodeAttempt, NodeEvent
from tests.console.seed import TRACEBACK, Seeded, pipeline, register, seed_running

pytestmark = pytest.mark.timeout(60)
LOGS = "/api/v1/logs/flytesnacks/development/logged"
LINES = [f"2026-12-04T22:45:1{i}.000Z OUT line {i}\n" for i in range(5)]


def blobs_of(client: TestClient) -> BlobStore:
    blobs: BlobStore = client.app.state.blobs  # type: ignore[attr-defined]
    return blobs


def write_log(blobs: BlobStore, node_id: str, attempt: int, lines: list[str],
              *, end: bool = True) -> LogWriter:
    writer = LogWriter(blobs, attempt_log_uri(blobs, "logged", node_id, attempt))
    writer.append("".join(lines).encode())
    if end:
        writer.close()
    else:
        writer.flush()
    return writer


def attempt(seeded: Seeded, number: int, uri: str | None,
            outcome: NodePhase | None = NodePhase.FAILED) -> AttemptEvent:
    t = seeded.started_at + number
    return AttemptEvent("n1", NodeAttempt(
        number, t, t + 1 if outcome else None, outcome, "USER" if outcome else None,
        TRACEBACK if outcome else None, None, {}, log_uri=uri))


@pytest.fixture
def seeded(client: TestClient, store: AdminStore) -> Seeded:
    """Execution 'logged': n1 failed its first attempt (two lines logged) and runs its
    second (five lines so far, not ended); n0 succeeded before logs were kept."""
    blobs = blobs_of(client)
    run = seed_running(store, register(store, pipeline), "logged",
                       nodes={"n0": NodePhase.SUCCEEDED, "n1": NodePhase.RUNNING})
    write_log(blobs, "n1", 1, ["2026-12-04T22:45:00.000Z ERR first try\n",
                               "2026-12-04T22:45:00.500Z FLYRAY attempt ended: FAILED\n"])
    write_log(blobs, "n1", 2, LINES, end=False)
    store.record_events(run.id, run.incarnation, [
        attempt(run, 1, attempt_log_uri(blobs, "logged", "n1", 1)),
        attempt(run, 2, attempt_log_uri(blobs, "logged", "n1", 2), None)])
    return run


def test_a_log_reads_whole_from_an_offset_or_as_a_tail(client: TestClient,
                                                      seeded: Seeded) -> None:
    whole = client.get(f"{LOGS}/n1").json()
    assert (whole["attempt"], whole["text"], whole["start"], whole["complete"]) == (
        2, "".join(LINES), 0, False)
    assert whole["execution"] == "flytesnacks/development/logged"
    assert whole["log_uri"].endswith("/logs/logged/n1/2")
    assert client.get(f"{LOGS}/n1", params={"since": whole["next"]}).json()["text"] == ""
    assert client.get(f"{LOGS}/n1", params={"tail": 2}).json()["text"] == "".join(LINES[-2:])

    first = client.get(f"{LOGS}/n1", params={"attempt": 1}).json()
    assert "first try" in first["text"] and first["complete"] is True


def test_unknown_nodes_and_attempts_and_logs_not_kept_are_404s(client: TestClient,
                                                              seeded: Seeded) -> None:
    def error(path: str, **params: object) -> tuple[int, str]:
        reply = client.get(path, params=params)
        return reply.status_code, reply.json()["error"]["message"]

    status, message = error(f"{LOGS}/n9")
    assert status == 404 and "no node 'n9'" in message
    status, message = error(f"{LOGS}/n1", attempt=7)
    assert status == 404 and "attempts: 1, 2" in message
    status, message = error(f"{LOGS}/n0")
    assert status == 404 and "kept no log" in message
    assert error(f"{LOGS}/n1", tail=3, since=0)[0] == 400
    assert error("/api/v1/logs/flytesnacks/development/nope/n1")[0] == 404


def test_a_log_outside_the_blob_store_is_refused(client: TestClient, store: AdminStore,
                                                 seeded: Seeded) -> None:
    store.record_events(seeded.id, seeded.incarnation, [
        attempt(seeded, 3, "file:///etc/logs/logged/n1/3", None)])
    reply = client.get(f"{LOGS}/n1")
    assert reply.status_code == 409
    assert "outside this server's blob store" in reply.json()["error"]["message"]


def test_a_stream_follows_a_running_attempt_until_its_log_is_complete(
        client: TestClient, store: AdminStore, seeded: Seeded) -> None:
    blobs = blobs_of(client)
    writer = write_log(blobs, "n1", 3, LINES, end=False)
    store.record_events(seeded.id, seeded.incarnation, [
        attempt(seeded, 3, attempt_log_uri(blobs, "logged", "n1", 3), None)])
    more = "2026-12-04T22:46:00.000Z OUT later\n"

    def finish() -> None:
        time.sleep(1.0)
        writer.append(more.encode())
        writer.close()

    thread = threading.Thread(target=finish)
    thread.start()
    with client.stream("GET", f"{LOGS}/n1/stream") as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/plain")
        text = "".join(reply.iter_text())
    thread.join()
    assert text == "".join(LINES) + more
    # From an offset, of an attempt that ended: what is left, at once.
    offset = len("".join(LINES[:3]).encode())
    rest = client.get(f"{LOGS}/n1/stream", params={"since": offset, "attempt": 3})
    assert rest.text == "".join(LINES[3:]) + more


def test_node_executions_link_their_attempts_logs(client: TestClient, store: AdminStore,
                                                  seeded: Seeded) -> None:
    store.record_events(seeded.id, seeded.incarnation, [
        NodeEvent("n1", "tests.console.seed.clean", 1, NodePhase.FAILED, "USER", TRACEBACK),
        attempt(seeded, 2, attempt_log_uri(blobs_of(client), "logged", "n1", 2))])
    node = client.get("/api/v1/node_executions/flytesnacks/development/logged/n1").json()
    urls = [a["log_url"] for a in node["attempts"]]
    assert urls == [f"{LOGS}/n1?attempt=1", f"{LOGS}/n1?attempt=2"]
    assert node["log_url"] == node["error"]["log_url"] == urls[-1]
    assert node["attempts"][1]["log_uri"].endswith("/logs/logged/n1/2")
