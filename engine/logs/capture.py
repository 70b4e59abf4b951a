"""Capturing what one task attempt prints and logs, in the process running it.

:func:`capturing` wraps an attempt. While it runs:

- ``sys.stdout`` and ``sys.stderr`` are tees (installed once per process, put back if
  something replaced them): every write still reaches the original stream (Ray's log
  forwarding and terminals see it), and its lines go to the attempt's log;
- a handler on the root logger takes records of INFO and up (the root logger's level is
  lowered to INFO if it was higher, and restored once no attempt is open: see
  :func:`_restore_level`).

Which attempt a write belongs to: the one running in this context (a ContextVar), else,
for threads the task started (they do not inherit it), the only attempt open in the
process. Writes from native code and subprocesses go straight to the file descriptors
and are not captured.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from engine.catalog.blob import BlobStore, StorageConfig
from engine.dag.run.secrets import SecretsManager
from engine.errors import AttemptError, SecretError
from engine.logs.lines import FLYRAY, STDERR, STDOUT, Masker, format_lines
from engine.logs.writer import LogWriter, soon
from engine.logs.writer import log as own_log

# Unfinished lines longer than this are stored without waiting for their line break.
_PARTIAL_MAX = 64 * 1024


class AttemptLog:
    """The log of one running attempt: formats lines and appends them to its writer.

    Invariant: nothing is written, nor the writer opened, before the attempt's first
    line: a successful attempt that printed and logged nothing stores no log at all
    (most tiny tasks are quiet, and an object each would cost them more than their run).
    """

    def __init__(self, writer: LogWriter, mask: Masker, header: str) -> None:
        self.writer = writer
        self.mask = mask
        self._header = header
        self._started = time.time()
        self._partial: dict[str, str] = {}  # stream -> text after its last line break
        self._lock = threading.Lock()
        # Whether the attempt has logged a line (its log is written, header first).
        self.spoke = False

    def write(self, stream: str, text: str) -> None:
        """Text written to ``stream`` (OUT or ERR); whole lines are logged."""
        with self._lock:
            text = self._partial.pop(stream, "") + text
            if "\n" not in text and len(text) < _PARTIAL_MAX:
                if text:
                    self._partial[stream] = text
                return
            done, _, rest = text.rpartition("\n") if "\n" in text else (text, "", "")
            if rest:
                self._partial[stream] = rest
        self.line(stream, done)

    def line(self, kind: str, text: str) -> None:
        """``text`` as lines of ``kind`` (OUT, ERR, FLYRAY or a level name)."""
        if not self.spoke:
            self._begin()
        self.writer.append(format_lines(kind, text, time.time(), self.mask))

    def _begin(self) -> None:
        with self._lock:
            if not self.spoke:
                self.writer.append(format_lines(FLYRAY, self._header, self._started,
                                                self.mask))
                self.writer.open()
                self.spoke = True

    def note(self, text: str) -> None:
        """A line of Flyray's own about the attempt."""
        self.line(FLYRAY, text)

    def end(self, outcome: str, error: str | None) -> None:
        """Log unfinished lines, the error (as stderr, where Python prints it) and the
        last line, and store what is left; for a quiet successful attempt, nothing."""
        with self._lock:
            partial, self._partial = self._partial, {}
        for stream, text in partial.items():
            self.line(stream, text)
        if error:
            self.line(STDERR, error)
        if self.spoke or outcome != "SUCCEEDED":
            self.note(f"attempt ended: {outcome}")
            self.writer.close()


_ATTEMPT: contextvars.ContextVar[AttemptLog | None] = \
    contextvars.ContextVar("flyray_attempt_log", default=None)
# The attempts open in this process, oldest first: a tuple replaced whole under the
# lock, so that writers read it without taking the lock.
_open: tuple[AttemptLog, ...] = ()
_open_lock = threading.Lock()
# The root logger's level before an attempt lowered it to INFO (None: not lowered).
_root_level: int | None = None


def _current() -> AttemptLog | None:
    """The attempt a write in this thread belongs to, if any."""
    attempt = _ATTEMPT.get()
    if attempt is None:
        attempts = _open
        return attempts[0] if len(attempts) == 1 else None
    return attempt


class _Tee:
    """A text stream that writes through to ``stream`` and logs to the current attempt."""

    def __init__(self, stream: TextIO, kind: str) -> None:
        self.stream = stream
        self.kind = kind

    def write(self, text: str) -> int:
        written = self.stream.write(text)
        attempt = _current() if _open else None
        if attempt is not None and text and not _from_root_handler():
            attempt.write(self.kind, text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, encoding, isatty, buffer...
        return getattr(self.stream, name)


_EMIT = logging.StreamHandler.emit.__code__


def _from_root_handler() -> bool:
    """Whether this write is a stream handler of the root logger (a task called
    basicConfig) or Python's last resort printing a record: the attempt's own handler
    logs that record already."""
    frame = sys._getframe(1).f_back  # _Tee.write's caller
    if frame is None or frame.f_code is not _EMIT:
        return False
    handler = frame.f_locals.get("self")
    return handler is logging.lastResort or handler in logging.root.handlers


class _Handler(logging.Handler):
    """On the root logger while attempts are open: their records of INFO and up."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._format = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        last_resort = logging.lastResort
        if last_resort is not None and record.levelno >= last_resort.level and \
                len(logging.root.handlers) == 1:
            # Without this handler the record would reach Python's last resort (stderr:
            # the worker's log file, the driver's terminal): it still does.
            last_resort.handle(record)
        attempt = _current()
        if attempt is None or record.name.startswith(own_log.name):
            return
        try:
            text = record.getMessage()
            if record.exc_info:
                text = f"{text}\n{self._format.formatException(record.exc_info)}"
            if record.stack_info:
                text = f"{text}\n{record.stack_info}"
        except Exception:  # a bad format string: logging reports it, as its handlers do
            self.handleError(record)
            return
        attempt.line(record.levelname, f"{record.name}: {text}")


_HANDLER = _Handler()


def _install_tees() -> None:
    if not isinstance(sys.stdout, _Tee):
        sys.stdout = _Tee(sys.stdout, STDOUT)
    if not isinstance(sys.stderr, _Tee):
        sys.stderr = _Tee(sys.stderr, STDERR)


def _register(attempt: AttemptLog) -> None:
    global _open, _root_level  # noqa: PLW0603  (see their comments)
    _install_tees()
    with _open_lock:
        if not _open:
            root = logging.getLogger()
            if _root_level is None and root.getEffectiveLevel() > logging.INFO:
                _root_level = root.level
                root.setLevel(logging.INFO)
            root.addHandler(_HANDLER)
        _open = (*_open, attempt)


def _unregister(attempt: AttemptLog) -> None:
    global _open  # noqa: PLW0603  (replaced whole: see its comment)
    with _open_lock:
        _open = tuple(a for a in _open if a is not attempt)
        if not _open:
            logging.getLogger().removeHandler(_HANDLER)
            if _root_level is not None:
                soon(_restore_level)


def _restore_level() -> None:
    """Put the root logger's level back if no attempt is open (asked for when the last
    one ends, run in the log flusher's thread within a tick): not at the end of every
    attempt, because setting a level clears every logger's cache, which costs a tiny
    task more than the rest of its log."""
    global _root_level  # noqa: PLW0603  (see its comment)
    with _open_lock:
        root = logging.getLogger()
        if not _open and _root_level is not None:
            if root.level == logging.INFO:  # else the task set a level of its own: kept
                root.setLevel(_root_level)
            _root_level = None


@functools.lru_cache(maxsize=8)
def blob_store(storage: StorageConfig) -> BlobStore:
    """One blob store per configuration in this process (it keeps its connections)."""
    return BlobStore(storage)


def secret_values(secrets: SecretsManager | None) -> list[str]:
    """The values of the secrets the task requested that are available here (a missing
    one cannot be printed, so it needs no mask)."""
    if secrets is None:
        return []
    values = []
    for request in secrets.requested or ():
        try:
            value = secrets.get(request.group, request.key or None)
        except SecretError:
            continue
        values.append(value if isinstance(value, str) else value.decode(errors="replace"))
    return values


@contextmanager
def capturing(storage: StorageConfig, uri: str, header: str,
              secrets: SecretsManager | None = None) -> Iterator[AttemptLog]:
    """Log the attempt running in the block to ``uri`` in the blob store: ``header``
    first, what it prints and logs, how it ended last (SUCCEEDED, else FAILED or
    TIMED_OUT with the error of the AttemptError it raised). Values of the task's
    requested ``secrets`` are masked. A quiet successful attempt stores nothing (see
    :class:`AttemptLog`). Never raises for the blob store's sake."""
    attempt = AttemptLog(LogWriter(blob_store(storage), uri),
                         Masker(secret_values(secrets)), header)
    token = _ATTEMPT.set(attempt)
    _register(attempt)
    outcome, error = "SUCCEEDED", None
    try:
        yield attempt
    except AttemptError as e:
        outcome, error = ("TIMED_OUT" if e.timed_out else "FAILED"), e.message
        raise
    except BaseException as e:
        outcome, error = "FAILED", f"{type(e).__name__}: {e}"
        raise
    finally:
        _unregister(attempt)
        _ATTEMPT.reset(token)
        attempt.end(outcome, error)
