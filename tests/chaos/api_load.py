"""A bounded, retrying client load on a served admin (:func:`tests.chaos.rig.open_served_rig`):
creates of executions with fixed names and reads of their status, from a fixed number of
threads, each call retried until it is answered, as a careful client would.

A create is retried under the same name, so a retry after a lost answer finds the
execution the first try made (the API's idempotent create) instead of making a second
one; every create answered 2xx is recorded in ``rig.accepted``. A 429 is waited out for
its ``Retry-After``; a 5xx or a refused or broken connection is retried after a short
backoff. Every HTTP attempt is logged (:class:`Attempt`), so a scenario can count the
errors inside its fault window; a call that is still unanswered after ``give_up_s`` is
recorded in ``gave_up`` and the load goes on.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos.rig import EXECUTIONS, Rig
from tests.serve.specs import DOMAIN, PROJECT

BACKOFF_S = 0.2


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: when it started (``time.time()``), how long it took, and its
    status (0: no answer of the admin's: the connection was refused or broken, or Serve's
    proxy answered in its stead)."""

    at: float
    took_s: float
    status: int


@dataclass
class ApiLoad:
    """The client load of one scenario over ``rig``'s API; thread-safe."""

    rig: Rig
    give_up_s: float = 90.0
    attempts: list[Attempt] = field(default_factory=list)
    # Calls answered: (start, seconds, tries), start by time.monotonic().
    calls: list[tuple[float, float, int]] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # answered 4xx other than 429
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, body: dict[str, Any]) -> bool:
        """Create the execution of ``body`` (it has a ``name``); True once answered 2xx."""
        response = self._call("POST", EXECUTIONS, body, f"create {body['name']}")
        if response is None or response.status_code not in (200, 201):
            return False
        self.rig.accept(str(body["name"]))
        return True

    def phase(self, name: str) -> str | None:
        """The phase of execution ``name``, or None if it could not be read."""
        response = self._call("GET", f"{EXECUTIONS}/{PROJECT}/{DOMAIN}/{name}", None,
                              f"read {name}")
        if response is None or response.status_code != 200:
            return None
        return str(response.json()["closure"]["phase"])

    def run(self, jobs: Iterable[Callable[[], Any]], threads: int = 16) -> None:
        """Run ``jobs`` on ``threads`` threads; returns when all have."""
        with ThreadPoolExecutor(threads, thread_name_prefix="api-load") as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    def _call(self, method: str, route: str, body: dict[str, Any] | None,
              what: str) -> httpx.Response | None:
        began, tries = time.monotonic(), 0
        while time.monotonic() - began < self.give_up_s:
            tries += 1
            at, start = time.time(), time.monotonic()
            try:
                response: httpx.Response | None = self.rig.client.request(
                    method, route, json=body)
            except httpx.TransportError:
                response = None
            status = 0 if response is None else response.status_code
            if response is not None and not _from_admin(response):
                status = 0  # Serve's proxy answered for a replica it could not reach
            with self._lock:
                self.attempts.append(Attempt(at, time.monotonic() - start, status))
            if response is not None and 0 < status < 500 and status != 429:
                with self._lock:
                    self.calls.append((began, time.monotonic() - began, tries))
                    if status >= 400:
                        self.refused.append(f"{what}: {status} {response.text[:200]}")
                return response
            wait = BACKOFF_S
            if status == 429:
                wait = float(response.headers.get("Retry-After", BACKOFF_S)) \
                    if response is not None else BACKOFF_S
            time.sleep(wait)
        with self._lock:
            self.gave_up.append(f"{what}: unanswered after {self.give_up_s:.0f} s")
        return None

    def serving(self) -> bool:
        """Whether the admin answers through Serve's proxy now (``GET /healthz``)."""
        try:
            response = self.rig.client.get("/healthz")
        except httpx.TransportError:
            return False
        return response.status_code == 200 and _from_admin(response)

    # --- figures ---------------------------------------------------------------------

    def errors(self, since: float = 0.0, until: float = float("inf")) -> int:
        """Attempts answered 5xx or not at all, started in [since, until)
        (``time.time()``)."""
        return sum(1 for a in self.attempts if since <= a.at < until
                   and (a.status == 0 or a.status >= 500))

    def failing_s(self, since: float, until: float = float("inf")) -> float:
        """Seconds from ``since`` to the last attempt before ``until`` that was answered
        5xx or not at all (``time.time()``): how long a fault at ``since`` made calls
        fail; 0 if none did."""
        failed = [a.at + a.took_s for a in self.attempts
                  if since <= a.at < until and (a.status == 0 or a.status >= 500)]
        return max(failed, default=since) - since

    def retried(self, since: float = 0.0) -> tuple[int, int]:
        """Calls answered that started at ``since`` or later (``time.monotonic()``), and
        how many of them had to be tried again after a 5xx, 429 or no answer."""
        started = [tries for start, _, tries in self.calls if start >= since]
        return len(started), sum(1 for tries in started if tries > 1)

    def throttled(self) -> int:
        """Attempts answered 429."""
        return sum(1 for a in self.attempts if a.status == 429)

    def p95_s(self, since: float = 0.0, until: float = float("inf")) -> float | None:
        """95th percentile of the calls (retries included) started in [since, until)
        (``time.monotonic()``), or None if fewer than two."""
        took = [s for start, s, _ in self.calls if since <= start < until]
        if len(took) < 2:
            return None
        return statistics.quantiles(took, n=20)[-1]


def _from_admin(response: httpx.Response) -> bool:
    """Whether the admin answered: its every answer is JSON, while Serve's proxy answers
    a route it has not (yet) learned, or a replica it lost, in plain text."""
    return response.headers.get("content-type", "").startswith("application/json")
