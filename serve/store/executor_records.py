"""What the admin store takes and returns about executors: plain frozen data.

An executor is a long-lived Ray actor that drives many executions at once
(``serve.driver.executor``); it reports itself with an :class:`ExecutorBeat`, and the
API lists what was reported as :class:`ExecutorInfo`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ExecutorBeat:
    """One executor's report of itself.

    Attributes:
        name: its Ray actor's name (namespace ``flyray``).
        project, domain, code_uri: what it runs: executions of this project and domain
            whose code is this bundle (None: the cluster's Python path).
        warm: kept running while idle (the supervisor's warm pool).
        in_flight: executions it drives now; ``completed``: it drove to their end.
    """

    name: str
    project: str
    domain: str
    code_uri: str | None
    warm: bool
    node_ip: str
    pid: int
    in_flight: int
    completed: int


@dataclass(frozen=True)
class ExecutorInfo:
    """An executor as last reported, with when it started and last reported (the
    database's clock) and whether that report is older than the staleness bound."""

    beat: ExecutorBeat
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stale: bool
