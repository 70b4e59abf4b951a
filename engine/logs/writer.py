"""Writing one attempt's log to the blob store in chunks, while the attempt runs.

Lines are appended to a buffer in memory (cheap: no I/O in the task's thread); one
flusher thread per process stores the buffers of the open logs as chunks about every
:data:`FLUSH_S` seconds, sooner once a buffer holds :data:`CHUNK_BYTES`. Closing a log
stores what is left as its final chunk, in the closing thread. So a running attempt's
lines are readable within about a second, and an attempt shorter than ``FLUSH_S`` costs
one object (a quiet one none: its capture never opens a writer).

A blob store that fails never fails the task: the log stops (its attempt runs on) and a
warning is logged once per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from engine.catalog.blob import BlobStore
from engine.errors import StorageError
from engine.logs.store import chunk_name

# How old the oldest unstored line of an open log may get before it is stored.
FLUSH_S = 0.5
# The size a chunk aims at (a longer single line makes a longer chunk).
CHUNK_BYTES = 256 * 1024
# How often the flusher looks at the open logs.
_TICK_S = 0.2

# The logger of this package: the capture leaves its records out of attempt logs.
log = logging.getLogger("engine.logs")
_warned = False


class LogWriter:
    """Appends whole lines to the log at ``uri``; thread-safe.

    Invariant: ``_stored`` bytes are in the blob store as consecutive chunks, and the
    buffer holds the bytes after them; only the holder of ``_write_lock`` stores chunks.
    """

    def __init__(self, blobs: BlobStore, uri: str) -> None:
        self.blobs = blobs
        self.uri = uri
        self._buffer = bytearray()
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stored = 0
        # When the oldest unstored line was appended (monotonic seconds), if any.
        self._since: float | None = None
        self._broken = False

    def append(self, data: bytes) -> None:
        """Add lines (``data`` ends with a line break) to the log."""
        if self._broken:
            return
        with self._buffer_lock:
            if self._since is None:
                self._since = time.monotonic()
            self._buffer += data
            full = len(self._buffer) >= CHUNK_BYTES
        if full:
            _FLUSHER.wake()

    def due(self, now: float) -> bool:
        """Whether the flusher should store the buffer now."""
        since = self._since
        return since is not None and (now - since >= FLUSH_S or
                                      len(self._buffer) >= CHUNK_BYTES)

    def flush(self, last: bool = False) -> None:
        """Store the buffer as chunks (``last``: the final one, which ends the log)."""
        with self._write_lock:
            with self._buffer_lock:
                data = bytes(self._buffer)
                self._buffer.clear()
                self._since = None
            if self._broken or not (data or last):
                return
            try:
                for piece, final in _pieces(data, last):
                    self.blobs.write_bytes(f"{self.uri}/{chunk_name(self._stored, final)}",
                                           piece)
                    self._stored += len(piece)
            except StorageError as e:
                self._broken = True
                _warn_once(self.uri, e)

    def open(self) -> None:
        """Let the flusher store this log while it is open."""
        _FLUSHER.add(self)

    def close(self) -> None:
        """Store the rest as the final chunk; nothing may be appended afterwards."""
        _FLUSHER.remove(self)
        self.flush(last=True)


def _pieces(data: bytes, last: bool) -> list[tuple[bytes, bool]]:
    """``data`` cut at line breaks into chunks of about CHUNK_BYTES, the final one
    marked when ``last``."""
    pieces = []
    while len(data) > CHUNK_BYTES:
        cut = data.rfind(b"\n", 0, CHUNK_BYTES) + 1 or data.find(b"\n", CHUNK_BYTES) + 1
        if not cut:
            break
        pieces.append(data[:cut])
        data = data[cut:]
    if data or last:
        pieces.append(data)
    return [(p, last and i == len(pieces) - 1) for i, p in enumerate(pieces)]


def _warn_once(uri: str, error: StorageError) -> None:
    global _warned  # noqa: PLW0603  (one warning per process, not one per attempt)
    if not _warned:
        _warned = True
        log.warning("task logs are not stored: the blob store refused %s (%s); attempts "
                    "run on without their logs (this warning is given once per process)",
                    uri, error)


class _Flusher:
    """The process's thread storing open logs' buffers (and running small chores
    :func:`soon` asks for); started when first needed."""

    def __init__(self) -> None:
        self._open: set[LogWriter] = set()
        self._chores: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # The thread sleeps while it has nothing to do, else ticks: what makes work for
        # a sleeping thread wakes it, nothing else does (a wake costs a thread switch).
        self._idle = True

    def add(self, writer: LogWriter) -> None:
        with self._lock:
            self._open.add(writer)
            self._start()

    def soon(self, chore: Callable[[], None]) -> None:
        with self._lock:
            if chore not in self._chores:
                self._chores.append(chore)
            self._start()

    def _start(self) -> None:
        """Start the thread, or wake it if it sleeps (holding ``_lock``)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="flyray-log-flusher")
            self._thread.start()
        if self._idle:
            self._idle = False
            self._wake.set()

    def remove(self, writer: LogWriter) -> None:
        with self._lock:
            self._open.discard(writer)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            with self._lock:
                idle = self._idle = not self._open and not self._chores
            self._wake.wait(None if idle else _TICK_S)
            self._wake.clear()
            if idle:  # woken for new work: it is done a tick later (chores come in bursts)
                continue
            now = time.monotonic()
            with self._lock:
                due = [w for w in self._open if w.due(now)]
                chores, self._chores = self._chores, []
            for writer in due:
                writer.flush()
            for chore in chores:
                chore()


_FLUSHER = _Flusher()


def soon(chore: Callable[[], None]) -> None:
    """Have ``chore`` run once in the flusher thread, a tick or two from now (asked
    again before it ran, it still runs once)."""
    _FLUSHER.soon(chore)
