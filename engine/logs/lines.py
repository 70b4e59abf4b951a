"""The line format of task logs: one record per physical line, timestamped.

    2026-12-04T22:45:14.123Z FLYRAY execution=f1 node=n0 attempt=1 task=wf.t host=10.0.0.5 pid=77
    2026-12-04T22:45:14.125Z OUT what the task printed
    2026-12-04T22:45:14.126Z ERR what it wrote to stderr
    2026-12-04T22:45:14.127Z INFO my.logger: what it logged
    2026-12-04T22:45:14.130Z FLYRAY attempt ended: SUCCEEDED

A multi-line message gets the prefix on every line. Secret values are replaced by
``****`` (:class:`Masker`) before a line is formatted, and in the error of a failed
attempt (:func:`masking`) before it leaves the worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from engine.errors import AttemptError

MASK = "****"
# Kinds of line besides logging's level names.
STDOUT, STDERR, FLYRAY = "OUT", "ERR", "FLYRAY"


class Masker:
    """Replaces secret values in text; the longest first, so a value containing another
    is masked whole."""

    def __init__(self, values: Iterable[str]) -> None:
        found = {part for value in values for part in _parts(value)}
        self.values = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text


@contextmanager
def masking(mask: Masker) -> Iterator[None]:
    """Secret values masked in the :class:`AttemptError` the block raises.

    Its message (the user's exception and traceback) becomes the attempt's, node's and
    execution's error, shown by the API, the console and notifications: masked here,
    where the values are known, nothing downstream can show them. Outputs a task
    returns are user data and are not masked.
    """
    try:
        yield
    except AttemptError as e:
        if mask.values:
            e.message = mask(e.message)
            e.args = (e.message,)  # str(e), as Ray's traceback of the task shows it
        raise


def _parts(value: str) -> list[str]:
    """A secret and, for a multi-line one, each of its lines (each line is masked alone)."""
    value = value.strip()
    lines = [line.strip() for line in value.splitlines()] if "\n" in value else []
    return [v for v in (value, *lines) if v]


_second = -1
_second_text = ""


def stamp(now: float) -> str:
    """``now`` (epoch seconds) as ``2026-12-04T22:45:14.123Z``."""
    global _second, _second_text  # noqa: PLW0603  (a cache: most lines share a second)
    whole = int(now)
    if whole != _second:
        _second_text, _second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)), whole
    return f"{_second_text}.{int((now - whole) * 1000):03d}Z"


def format_lines(kind: str, text: str, now: float, mask: Masker) -> bytes:
    """``text`` (no trailing line break) as log lines of ``kind``, UTF-8 encoded."""
    prefix = f"{stamp(now)} {kind} "
    if mask.values:
        text = mask(text)
    if "\n" not in text and "\r" not in text:
        return f"{prefix}{text}\n".encode(errors="replace")
    return "".join(f"{prefix}{line}\n" for line in text.splitlines()).encode(errors="replace")
