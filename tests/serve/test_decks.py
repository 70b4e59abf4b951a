"""Decks in the control plane: node attempts record their deck document's URI, node
executions link it, and ``GET /api/v1/decks/...`` serves it as HTML from the server's
blob store (nothing outside it). The store's side over SQLite and PostgreSQL without
Ray; one real remote execution of a deck-enabled task on the shared cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import Settings
from engine.dag.run.state import NodePhase
from engine.remote.executions import FlyteNodeExecution, WorkflowExecutionIdentifier
from serve.store import AdminStore
from serve.store.execution_records import (
    AttemptEvent,
    ExecutionId,
    ExecutionRequest,
    NodeAttempt,
    NodeEvent,
    TargetKind,
)
from tests.fixtures import deck_wfs, remote_wfs
from tests.serve.remote import launch_workflow, nodes, path, wait_for
from tests.serve.specs import DOMAIN, PROJECT, closure_tasks, error_of, workflow_spec

DECKS = "/api/v1/decks"
PAGE = b"<!DOCTYPE html><html><body><h1>the deck</h1></body></html>"


def executed(store: AdminStore, *attempts: NodeAttempt) -> ExecutionId:
    """An execution of ``square_plus_one`` whose node n0 ended these attempts and
    SUCCEEDED, as a driver records them."""
    for task in closure_tasks(remote_wfs.square_plus_one):
        store.register_task(task)
    wf, _ = store.register_workflow(workflow_spec(remote_wfs.square_plus_one))
    execution, _, _ = store.create_execution(ExecutionRequest(
        PROJECT, DOMAIN, "decked", TargetKind.WORKFLOW, wf.id.name, wf.id.version, {"x": 3}))
    claim = store.claim_driver(execution.id, 1)
    assert claim is not None
    store.record_events(execution.id, claim.incarnation, [
        *(AttemptEvent("n0", a) for a in attempts),
        NodeEvent("n0", "t", 0, NodePhase.SUCCEEDED, outputs={"o0": {"inline": 9}})])
    return execution.id


def attempt(number: int, outcome: NodePhase, deck_uri: str | None) -> NodeAttempt:
    return NodeAttempt(number, 1.0, 2.0, outcome, None, None, "MISS", {}, deck_uri)


def test_a_nodes_deck_is_linked_and_served_as_html_by_attempt(
        store: AdminStore, client: TestClient, tmp_path: Path) -> None:
    blobs = BlobStore(StorageConfig.from_settings(Settings(home=tmp_path)))
    uri = blobs.uri("decks", "decked", "n0", "2.html")
    blobs.write_bytes(uri, PAGE)
    ident = executed(store, attempt(1, NodePhase.FAILED, None),
                     attempt(2, NodePhase.SUCCEEDED, uri))

    node = client.get(f"/api/v1/node_executions/{path(ident.name)}/n0").json()
    deck_url = f"{DECKS}/{path(ident.name)}/n0"
    assert (node["deck_uri"], node["deck_url"]) == (uri, deck_url)
    assert [(a["deck_uri"], a["deck_url"]) for a in node["attempts"]] == [
        (None, None), (uri, f"{deck_url}?attempt=2")]

    for url in (deck_url, f"{deck_url}?attempt=2"):
        page = client.get(url)
        assert page.status_code == 200 and page.content == PAGE
        assert page.headers["content-type"].startswith("text/html")
        # The task's HTML runs in an opaque origin, never as a page of the admin API.
        assert page.headers["content-security-policy"] == "sandbox allow-scripts"
    assert "wrote no deck" in error_of(client.get(f"{deck_url}?attempt=1"), 404)["message"]
    assert "its attempts: 1, 2" in error_of(client.get(f"{deck_url}?attempt=3"),
                                            404)["message"]
    error_of(client.get(f"{deck_url}?attempt=0"), 400)
    error_of(client.get(f"{DECKS}/{path(ident.name)}/nope"), 404)
    error_of(client.get(f"{DECKS}/{path('nope')}/n0"), 404)

    blobs.delete(uri)
    assert "no longer in the blob store" in error_of(client.get(deck_url), 404)["message"]


@pytest.mark.parametrize("outside", ["file:///etc/hostname", "s3://bucket/decks/n0/1.html"])
def test_a_deck_outside_the_blob_store_is_not_served(
        store: AdminStore, client: TestClient, outside: str) -> None:
    ident = executed(store, attempt(1, NodePhase.SUCCEEDED, outside))
    error = error_of(client.get(f"{DECKS}/{path(ident.name)}/n0"), 409)
    assert "outside this server's blob store" in error["message"]


@pytest.mark.timeout(120)
def test_a_remote_execution_records_and_serves_its_decks(remote_sqlite: TestClient) -> None:
    remote = remote_sqlite
    name = launch_workflow(remote, deck_wfs.report, inputs={"n": 4})["id"]["name"]
    wait_for(remote, name)
    by_id = nodes(remote, name)
    made, plain = by_id["n0"], by_id["n1"]
    assert made["deck_uri"].endswith("/n0/1.html")
    assert made["attempts"][-1]["deck_uri"] == made["deck_uri"]
    page = remote.get(made["deck_url"])
    assert page.status_code == 200, page.text
    assert "<h1>4 rows</h1>" in page.text and "from the default deck" in page.text

    assert plain["deck_uri"] is None and plain["deck_url"] is None
    error = error_of(remote.get(f"{DECKS}/{path(name)}/n1"), 404)
    assert "enable_deck" in error["message"]

    # FlyteRemote's node execution carries it, as flytekit's closure does.
    node = FlyteNodeExecution.of(made, WorkflowExecutionIdentifier(PROJECT, DOMAIN, name),
                                 None)
    assert node.closure.deck_uri == made["deck_uri"]
    assert node.attempts[-1].deck_url == f"{made['deck_url']}?attempt=1"
