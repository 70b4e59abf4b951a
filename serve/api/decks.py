"""Deck documents of node executions, read from the server's blob store:

``GET /api/v1/decks/{project}/{domain}/{name}/{node_id}`` answers the HTML document of the
node's last attempt, ``?attempt=N`` that of attempt N (node executions link them as
``deck_url``). 404 when the node or attempt is unknown or wrote no deck, or the document
is gone from the blob store; 409 when the recorded URI lies outside the server's blob
store (the admin reads nothing else); 503 when the blob store cannot be read.

A deck holds HTML that the task's code wrote, so it is served sandboxed: it runs in an
opaque origin of its own (scripts allowed, for its tabs), never as a page of the admin API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from engine.catalog.blob import BlobStore
from engine.errors import StorageError
from serve.api.deps import Store
from serve.api.params import DomainId, Name, NodeId, ProjectId
from serve.errors import BlobStoreUnavailableError, NotFoundError, OutsideBlobStoreError
from serve.store.execution_records import ExecutionId, NodeExecution
from serve.store.inputs import inside

router = APIRouter(tags=["decks"])

# The route answers HTML, its errors JSON (serve.api.errors): documented apart.
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The deck document", "content": {"text/html": {}}},
    **{status: {"description": kind, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
       for status, kind in (
           (400, "INVALID_ARGUMENT"),
           (404, "NOT_FOUND: no such node or attempt, or it wrote no deck"),
           (409, "FAILED_PRECONDITION: the deck lies outside the server's blob store"),
           (503, "UNAVAILABLE: the blob store cannot be read"))},
}
_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts",
            "X-Content-Type-Options": "nosniff"}


def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


Blobs = Annotated[BlobStore, Depends(get_blobs)]


@router.get("/decks/{project}/{domain}/{name}/{node_id}", response_class=HTMLResponse,
            responses=_RESPONSES,
            summary="A node's deck document: its last attempt's, or ?attempt=N's")
def get_deck(project: ProjectId, domain: DomainId, name: Name, node_id: NodeId, store: Store,
             blobs: Blobs,
             attempt: Annotated[int | None, Query(ge=1, description=(
                 "The attempt (1 for the first); omitted: the last one."))] = None,
             ) -> HTMLResponse:
    node = store.get_node_execution(ExecutionId(project, domain, name), node_id)
    return HTMLResponse(_read(blobs, deck_uri(node, attempt)), headers=_HEADERS)


def deck_uri(node: NodeExecution, attempt: int | None) -> str:
    """The URI of the deck that ``attempt`` of ``node`` wrote (None: its last attempt);
    NotFoundError when it has no such attempt or the attempt wrote none."""
    where = f"node '{node.node_id}' of execution {node.execution}"
    if not node.attempts:
        raise NotFoundError(f"{where} has no deck: it has not ended an attempt (yet)")
    chosen = node.attempts[-1]
    if attempt is not None:
        found = [a for a in node.attempts if a.attempt == attempt]
        if not found:
            numbers = ", ".join(str(a.attempt) for a in node.attempts)
            raise NotFoundError(f"{where} has no attempt {attempt}; its attempts: {numbers}")
        chosen = found[0]
    if chosen.deck_uri is None:
        raise NotFoundError(
            f"attempt {chosen.attempt} of {where} wrote no deck: only a successful attempt "
            "of a task with @task(enable_deck=True) writes one (a cache hit runs nothing)")
    return chosen.deck_uri


def _read(blobs: BlobStore, uri: str) -> bytes:
    if not inside(uri, blobs.root):
        raise OutsideBlobStoreError(
            f"the deck is recorded at {uri[:200]!r}, outside this server's blob store "
            f"{blobs.root}, and the admin reads only its own; run the executions' drivers "
            "with the admin server's blob_root")
    try:
        return blobs.read_bytes(uri)
    except StorageError as e:
        if isinstance(e.__cause__, FileNotFoundError):
            raise NotFoundError(f"the deck recorded at {uri} is no longer in the blob "
                                "store (deleted since)") from None
        raise BlobStoreUnavailableError(f"the deck cannot be read: {e}") from e
