"""Failpoints: named places in Flyray where a fault test makes it fail on purpose.

A failpoint is one call, ``hit("executor.after_dispatch")``, at a place where a crash or an
I/O error would leave the system in a state worth testing (work submitted but not yet
recorded, an output written but its success not yet recorded, a row committed but no
answer sent). Outside tests it does nothing: it is live only where the process's
environment has ``FLYRAY_TESTING=1``, and then only for the rules written in the
directory named by ``FLYRAY_FAILPOINTS_DIR``, so a running cluster's processes (Ray
workers, executors, the admin) take new rules without a restart.

Rules live in ``<dir>/rules.json``: ``{"<name>": {"action": ..., "times": n, "seconds": s}}``.
Actions: ``kill`` (SIGKILL this process: a crash at that line), ``raise`` (a
:class:`FailpointError`), ``enospc`` (an ``OSError`` saying the disk is full) and ``sleep``
(``seconds``: a stall). A rule fires on its first ``times`` hits counted over every
process (each firing claims a marker file, created exclusively), so "kill the first
executor that gets here" kills one, not every restarted one after it. ``fired(dir, name)``
says how often a rule fired.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

TESTING_FLAG = "FLYRAY_TESTING"
DIRECTORY = "FLYRAY_FAILPOINTS_DIR"
RULES = "rules.json"
ACTIONS = ("kill", "raise", "enospc", "sleep")


class FailpointError(RuntimeError):
    """The ``raise`` action of a failpoint: a fault a test injected, never a real one."""


def hit(name: str) -> None:
    """Fire the failpoint ``name`` if this process is under test and a rule asks for it."""
    if os.environ.get(TESTING_FLAG) != "1":
        return
    directory = os.environ.get(DIRECTORY)
    if directory:
        _fire(Path(directory), name)


def set_rules(directory: Path, rules: dict[str, dict[str, Any]]) -> None:
    """Replace the rules (tests): an empty dict turns every failpoint off again.

    Markers of earlier firings are removed, so each rule counts its ``times`` afresh.
    """
    for name, rule in rules.items():
        if rule.get("action") not in ACTIONS:
            raise ValueError(f"failpoint {name!r}: action must be one of {ACTIONS}, "
                             f"not {rule.get('action')!r}")
    directory.mkdir(parents=True, exist_ok=True)
    for marker in directory.glob("fired-*"):
        marker.unlink(missing_ok=True)
    staged = directory / f".{RULES}.{os.getpid()}"
    staged.write_text(json.dumps(rules))
    os.replace(staged, directory / RULES)  # readers see the old rules or the new, whole


def fired(directory: Path, name: str) -> int:
    """How many times the failpoint ``name`` fired since its rules were set."""
    return len(list(directory.glob(f"fired-{name}.*")))


def _fire(directory: Path, name: str) -> None:
    try:
        rules = json.loads((directory / RULES).read_text())
    except FileNotFoundError:
        return
    rule = rules.get(name)
    if rule is None or not _claim(directory, name, int(rule.get("times", 1))):
        return
    action = rule["action"]
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise FailpointError(f"failpoint {name} fired (a fault injected by a test)")
    elif action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (failpoint {name})")
    elif action == "sleep":
        time.sleep(float(rule.get("seconds", 1.0)))


def _claim(directory: Path, name: str, times: int) -> bool:
    """Claim one of the rule's ``times`` firings; False once all are taken."""
    for number in range(times):
        try:
            fd = os.open(directory / f"fired-{name}.{number}",
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        return True
    return False
