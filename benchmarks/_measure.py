"""Shared helpers: medians over repeats, peak memory of the Ray processes, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in the dev venv
import ray

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "ray": ray.__version__,
    }


def _ray_pss() -> int:
    """Proportional memory of this process and every Ray worker: shared pages split."""
    total = 0
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if proc.pid == os.getpid() or cmd.startswith("ray::") or "default_worker.py" in cmd:
                total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


class PeakMemory:
    """Samples the Ray processes' PSS every few ms; ``peak`` is above the starting level."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.baseline = 0
        self.highest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.highest = max(self.highest, _ray_pss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self.baseline = _ray_pss()
        self.highest = self.baseline
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return self.highest - self.baseline


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def write(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def print_summaries(rows: list[tuple[str, dict[str, float]]], digits: int = 2) -> None:
    """A median / min / max table of :func:`summary` results."""
    width = max(len(label) for label, _ in rows) + 2
    print(f"{'':{width}}{'median':>9}{'min':>9}{'max':>9}")
    for label, s in rows:
        print(f"{label:{width}}{s['median']:9.{digits}f}{s['min']:9.{digits}f}"
              f"{s['max']:9.{digits}f}")


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


class BenchmarkError(RuntimeError):
    """A workload computed a wrong result: its timings would mean nothing."""


def check(what: str, got: Any, expected: Any) -> None:
    """Raise unless ``got == expected``, so a broken workload cannot report a fast time."""
    if got != expected:
        raise BenchmarkError(f"{what}: got {_short(got)}, expected {_short(expected)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:117]}..."


def interleaved(runs: dict[str, Callable[[], Any]], repeats: int,
                verify: Callable[[str, Any], None]) -> dict[str, list[float]]:
    """Seconds of each callable over ``repeats`` rounds, taking turns so drift hits all alike.

    ``verify(name, result)`` checks every result and raises on a wrong one.
    """
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            elapsed, out = timed(fn)
            verify(name, out)
            seconds[name].append(elapsed)
    return seconds
