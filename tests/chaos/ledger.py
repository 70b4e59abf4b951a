"""The side-effect ledger: what the fault suite's tasks did, as they saw it.

Tasks of :mod:`tests.chaos.workloads` write here from Ray workers, so the checker learns
what happened outside the admin database: every start of a task body (with its pid, so a
scenario can kill exactly that process) and every effect it committed. An effect is
committed the way an idempotent task commits to an external system: once per
(execution, node, effect), whatever the number of attempts (an exclusive create of a
marker file stands for ``INSERT ... ON CONFLICT DO NOTHING``); a commit that found its
effect already there is logged as a repeat, never as a second effect.

Lines are appended to ``ledger.jsonl`` with ``O_APPEND``, one ``write`` each, so the
lines of concurrent writers never interleave.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LINES = "ledger.jsonl"
EFFECTS = "effects"


def _append(ledger: str, entry: dict[str, Any]) -> None:
    line = (json.dumps(entry, sort_keys=True) + "\n").encode()
    fd = os.open(Path(ledger) / LINES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def started(ledger: str, key: str, label: str) -> None:
    """Record that the task body of node ``label`` of execution ``key`` started here."""
    _append(ledger, {"kind": "start", "key": key, "label": label, "pid": os.getpid(),
                     "time": time.time()})


def starts(ledger: str, key: str, label: str) -> int:
    """How many times node ``label``'s body started for execution ``key`` so far (a task
    reads it to take its nap on its first run only)."""
    path = Path(ledger) / LINES
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines()
               if (e := json.loads(line))["kind"] == "start" and e["key"] == key
               and e["label"] == label)


def commit(ledger: str, key: str, label: str) -> bool:
    """Commit node ``label``'s effect for execution ``key`` once; True if this call did."""
    marker = Path(ledger) / EFFECTS / f"{key}.{label}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        first = True
    except FileExistsError:
        first = False
    _append(ledger, {"kind": "commit" if first else "repeat", "key": key, "label": label,
                     "pid": os.getpid(), "time": time.time()})
    return first


@dataclass(frozen=True)
class Entry:
    kind: str  # "start", "commit" or "repeat"
    key: str
    label: str
    pid: int
    time: float


class Ledger:
    """The ledger in ``directory`` (made if missing), read by scenarios and the checker."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def __str__(self) -> str:
        return str(self.directory)

    def entries(self) -> list[Entry]:
        path = self.directory / LINES
        if not path.exists():
            return []
        return [Entry(**json.loads(line)) for line in path.read_text().splitlines() if line]

    def starts(self, key: str | None = None) -> Counter[tuple[str, str]]:
        """How many times each (execution, node) body started."""
        return Counter((e.key, e.label) for e in self.entries()
                       if e.kind == "start" and (key is None or e.key == key))

    def commits(self) -> Counter[tuple[str, str]]:
        """Committed effects per (execution, node): 1 each when nothing was duplicated."""
        return Counter((e.key, e.label) for e in self.entries() if e.kind == "commit")

    def running_pid(self, key: str, label: str) -> int | None:
        """The pid of the latest start of (key, label), if it started."""
        found = [e for e in self.entries()
                 if e.kind == "start" and e.key == key and e.label == label]
        return found[-1].pid if found else None
