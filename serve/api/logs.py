"""Task logs of node attempts, read from the server's blob store (``engine.logs``):

``GET /api/v1/logs/{project}/{domain}/{name}/{node_id}`` answers JSON: the log of the
node's last attempt (``?attempt=N``: attempt N) from byte ``?since=`` (default 0), at
most 1 MiB of whole lines, or its last ``?tail=N`` lines; ``next`` is where to read on,
``complete`` says the attempt ended and nothing more will come. ``.../stream`` answers
the log as chunked ``text/plain``, lines as they arrive, until the attempt's log is
complete. Node executions link their attempts' logs as ``log_url``.

404 when the node or attempt is unknown or kept no log; 409 when the recorded URI lies
outside the server's blob store (the admin reads nothing else); 503 when the blob store
cannot be read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from engine.errors import StorageError
from engine.logs.store import LogSlice, LogStore
from serve.api.decks import Blobs
from serve.api.deps import Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.params import DomainId, Name, NodeId, ProjectId
from serve.errors import (
    BlobStoreUnavailableError,
    InvalidArgumentError,
    NotFoundError,
    OutsideBlobStoreError,
)
from serve.store import AdminStore
from serve.store.execution_records import ExecutionId, NodeAttempt, NodeExecution
from serve.store.inputs import inside

router = APIRouter(tags=["logs"])

MAX_TAIL = 100_000  # lines
POLL_S = 0.5  # how often a stream looks for new lines (the writer flushes as often)
_ATTEMPT = Query(ge=1, description="The attempt (1 for the first); omitted: the last one.")
_SINCE = Query(ge=0, le=2**62, description="Byte offset to read from: a previous answer's "
               "next (0: the start).")
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ERROR_RESPONSES[404]["model"],
          "description": "NOT_FOUND: no such execution, node or attempt, or it kept no log"},
    409: {"model": ERROR_RESPONSES[409]["model"],
          "description": "FAILED_PRECONDITION: the log lies outside the server's blob store"},
}
R = TypeVar("R")


class LogModel(BaseModel):
    execution: str = Field(description="project/domain/name")
    node_id: str
    attempt: int
    text: str = Field(description="Whole lines: '<time> OUT|ERR|<LEVEL> <text>'.")
    start: int = Field(description="Byte offset of text's first byte in the whole log.")
    next: int = Field(description="Byte offset after text: pass as ?since= to read on.")
    complete: bool = Field(description="The attempt ended and its whole log is stored: "
                           "nothing more will come.")
    log_uri: str


@router.get("/logs/{project}/{domain}/{name}/{node_id}", response_model=LogModel,
            responses=_RESPONSES,
            summary="A node attempt's log (stdout, stderr, logging): from ?since=, or its "
                    "last ?tail= lines")
def get_log(project: ProjectId, domain: DomainId, name: Name, node_id: NodeId, store: Store,
            blobs: Blobs,
            attempt: Annotated[int | None, _ATTEMPT] = None,
            tail: Annotated[int | None, Query(ge=1, le=MAX_TAIL, description=(
                "The last N lines instead (not with since)."))] = None,
            since: Annotated[int | None, _SINCE] = None) -> LogModel:
    if tail is not None and since is not None:
        raise InvalidArgumentError("give ?tail= (the last lines) or ?since= (from a byte "
                                   "offset), not both")
    ident = ExecutionId(project, domain, name)
    chosen = attempt_of(store.get_node_execution(ident, node_id), attempt)
    uri = log_uri(chosen, ident, node_id, blobs.root)
    logs = LogStore(blobs)
    piece = _reading(lambda: logs.tail(uri, tail) if tail is not None
                     else logs.read(uri, since or 0))
    return LogModel(execution=str(ident), node_id=node_id, attempt=chosen.attempt,
                    text=piece.text, start=piece.start, next=piece.next,
                    complete=piece.complete, log_uri=uri)


@router.get("/logs/{project}/{domain}/{name}/{node_id}/stream", responses={
    **_RESPONSES, 200: {"description": "The log's lines as they arrive (chunked); the "
                        "response ends when the attempt's log is complete",
                        "content": {"text/plain": {}}}},
            response_class=StreamingResponse,
            summary="Follow a node attempt's log: its lines from ?since= as they arrive, "
                    "until the attempt ended")
def stream_log(project: ProjectId, domain: DomainId, name: Name, node_id: NodeId, store: Store,
               blobs: Blobs, attempt: Annotated[int | None, _ATTEMPT] = None,
               since: Annotated[int, _SINCE] = 0) -> StreamingResponse:
    ident = ExecutionId(project, domain, name)
    chosen = attempt_of(store.get_node_execution(ident, node_id), attempt)
    uri = log_uri(chosen, ident, node_id, blobs.root)
    return StreamingResponse(
        _follow(LogStore(blobs), uri, since, lambda: _ended(store, ident, node_id,
                                                            chosen.attempt)),
        media_type="text/plain; charset=utf-8", headers={"X-Content-Type-Options": "nosniff"})


def attempt_of(node: NodeExecution, attempt: int | None) -> NodeAttempt:
    """The node's attempt ``attempt`` (None: its last); NotFoundError saying which exist."""
    where = f"node '{node.node_id}' of execution {node.execution}"
    if not node.attempts:
        raise NotFoundError(f"{where} has no log: it has not started an attempt (yet; it "
                            f"is {node.phase.value})")
    if attempt is None:
        return node.attempts[-1]
    for found in node.attempts:
        if found.attempt == attempt:
            return found
    numbers = ", ".join(str(a.attempt) for a in node.attempts)
    raise NotFoundError(f"{where} has no attempt {attempt}; its attempts: {numbers}")


def log_uri(attempt: NodeAttempt, ident: ExecutionId, node_id: str, root: str) -> str:
    """Where the attempt's log is; NotFoundError when it kept none, OutsideBlobStoreError
    when that lies outside the blob store at ``root``."""
    uri = attempt.log_uri
    if uri is None:
        raise NotFoundError(f"attempt {attempt.attempt} of node '{node_id}' of execution "
                            f"{ident} kept no log: it printed and logged nothing, or it ran "
                            "before this admin kept task logs")
    if not inside(uri, root):
        raise OutsideBlobStoreError(
            f"the log is recorded at {uri[:200]!r}, outside this server's blob store {root}, "
            "and the admin reads only its own; run the executions' drivers with the admin "
            "server's blob_root")
    return uri


def _reading(read: Callable[[], R]) -> R:
    """``read`` of the blob store, its failures as the API's errors."""
    try:
        return read()
    except StorageError as e:
        raise BlobStoreUnavailableError(f"the log cannot be read: {e}") from e


def _ended(store: AdminStore, ident: ExecutionId, node_id: str, number: int) -> bool:
    """Whether the attempt is over in the admin's records (or can no longer end)."""
    node = store.get_node_execution(ident, node_id)
    found = [a for a in node.attempts if a.attempt == number]
    return not found or found[0].outcome is not None or node.phase.terminal


async def _follow(logs: LogStore, uri: str, since: int,
                  ended: Callable[[], bool]) -> AsyncIterator[bytes]:
    """The log's text from ``since`` as it is written, until it is complete. A worker
    that died leaves no end marker: once the records say the attempt is over, one more
    read takes what it flushed, and the stream ends."""
    offset, last_chance, idle = since, False, 0
    while True:
        piece: LogSlice = await run_in_threadpool(_reading, partial(logs.read, uri, offset))
        if piece.text:
            yield piece.text.encode()
            offset, idle = piece.next, 0
            continue
        if piece.complete or last_chance:
            return
        idle += 1
        if idle % 4 == 0:  # every 2 s without news, ask the records
            last_chance = await run_in_threadpool(ended)
        await asyncio.sleep(POLL_S)
