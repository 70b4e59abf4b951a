"""Shared by the flytekit peer scripts: arguments, timing, checking, the JSON line.

These scripts run in the flytekit peer venv (see benchmarks/peer.py), never in
Flyray's environment; each prints ``{"seconds": {name: [...]}, ...}`` last.
"""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

# flytekit local runs write under a temp dir and may log; keep stdout for the JSON line.
os.environ.setdefault("FLYTE_SDK_LOGGING_LEVEL", "40")


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    return p


def timed_runs(fn: Callable[[], Any], repeats: int, verify: Callable[[Any], None],
               warm_up: bool = True) -> list[float]:
    """Seconds of ``repeats`` calls after one untimed call; every result is verified."""
    if warm_up:
        verify(fn())
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        seconds.append(time.perf_counter() - start)
        verify(out)
    return seconds


def check(what: str, got: Any, expected: Any) -> None:
    if got != expected:
        sys.exit(f"{what}: got {got!r}, expected {expected!r}")


def report(seconds: dict[str, list[float]], **extra: Any) -> None:
    import flytekit

    print(json.dumps({"seconds": seconds, "flytekit": flytekit.__version__, **extra}))
