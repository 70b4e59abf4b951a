"""Task logs: what each attempt of each node printed and logged, kept in the blob store.

Every attempt's stdout, stderr and Python logging (INFO and up) are captured where it
runs (:mod:`engine.logs.capture`), as timestamped lines (:mod:`engine.logs.lines`), and
stored while it runs in chunks under ``logs/<execution>/<node>/<attempt>``
(:mod:`engine.logs.writer`); :class:`LogStore` reads them back, whole, from an offset,
or the last lines. Secret values the task requested are masked.
"""

from __future__ import annotations

from engine.logs.store import LogSlice, LogStore, attempt_log_uri

__all__ = ["LogSlice", "LogStore", "attempt_log_uri"]
