"""The workflows the fault scenarios run. Their tasks report to the side-effect ledger
(:mod:`tests.chaos.ledger`) given as an input, under the execution's name given as
``key``, so the checker can match what ran against what the admin recorded."""

from __future__ import annotations

import time

from engine import task, workflow
from tests.chaos.ledger import commit, started, starts


@task(retries=0)
def step(ledger: str, key: str, label: str, x: int, seconds: float) -> int:
    """One idempotent step: logs its start, naps (on its first run only, so a run
    resumed after a fault finishes at once), commits its effect once, adds one.

    ``retries=0``: an attempt lost to a fault is the system's to retry, never the task's.
    """
    first = starts(ledger, key, label) == 0
    started(ledger, key, label)
    if first and seconds:
        time.sleep(seconds)
    commit(ledger, key, label)
    return x + 1


@workflow
def chain(ledger: str, key: str, seconds: float) -> int:
    """Three steps in a row (nodes n0, n1, n2 labelled a, b, c); the middle one naps
    ``seconds``, long enough for a scenario to strike while it runs. Returns 3."""
    a = step(ledger=ledger, key=key, label="a", x=0, seconds=0.0)
    b = step(ledger=ledger, key=key, label="b", x=a, seconds=seconds)
    return step(ledger=ledger, key=key, label="c", x=b, seconds=0.0)


@task(retries=0)
def blob(ledger: str, key: str, size: int) -> bytes:
    """``size`` bytes of output (offloaded to the blob store above the threshold)."""
    started(ledger, key, "blob")
    data = bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)
    commit(ledger, key, "blob")
    return data


@task(retries=0)
def measure(ledger: str, key: str, data: bytes) -> int:
    started(ledger, key, "measure")
    commit(ledger, key, "measure")
    return len(data)


@workflow
def large(ledger: str, key: str, size: int) -> int:
    """Makes ``size`` bytes in one node and measures them in the next. Returns ``size``."""
    return measure(ledger=ledger, key=key, data=blob(ledger=ledger, key=key, size=size))
