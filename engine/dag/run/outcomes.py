"""How an ended attempt is written into its records, and how a failed one failed.

The one place where the driver tells failures apart: an :class:`AttemptError` carries
the worker's own verdict (user or system, timed out, recoverable); any other error
raised by the attempt's Ray task is a system failure; a worker killed once the attempt
ran past its task's timeout (the worker kills itself then) is a user failure, TIMED_OUT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ray.exceptions import RayError, RayTaskError

from engine.dag.run.state import AttemptRecord, NodePhase, NodeRecord, nodes_from_rows
from engine.dag.run.worker import AttemptInfo, record_failure, record_success
from engine.errors import AttemptError, ErrorKind


@dataclass(frozen=True)
class Failure:
    """How an attempt failed, as the driver decides whether to retry it."""

    outcome: NodePhase  # FAILED or TIMED_OUT
    kind: ErrorKind
    message: str
    # The user said the failure is transient (FlyteRecoverableException): it may be
    # retried beyond the task's own retries.
    recoverable: bool = False


def record_succeeded(node: NodeRecord, attempt: AttemptRecord, info: AttemptInfo) -> None:
    """Fill ``attempt`` of ``node`` from the worker's report of its success."""
    record_success(attempt, info)
    node.children = nodes_from_rows(info.children)
    node.child_execution = info.child_execution


def record_failed(node: NodeRecord, attempt: AttemptRecord, error: RayError,
                  timeout_s: float | None) -> Failure:
    """Fill ``attempt`` of ``node`` from the ``error`` its status raised; how it failed.

    ``timeout_s``: the task's timeout when the node has been ready for longer, so a
    worker that died then was killed for running past it.
    """
    if isinstance(error, RayTaskError) and isinstance(error.cause, AttemptError):
        cause = error.cause
        record_failure(attempt, cause)
        node.children = nodes_from_rows(cause.children)
        node.child_execution = cause.child_execution
        return Failure(attempt.outcome or NodePhase.FAILED, cause.kind, cause.message,
                       cause.recoverable)
    attempt.end = time.time()
    failure = _system_failure(error, timeout_s)
    attempt.outcome, attempt.error_kind, attempt.error = \
        failure.outcome, failure.kind, failure.message
    return failure


def _system_failure(error: RayError, timeout_s: float | None) -> Failure:
    """How an attempt failed that did not report its own failure: its Ray task raised,
    or its worker died."""
    if isinstance(error, RayTaskError):
        return Failure(NodePhase.FAILED, ErrorKind.SYSTEM, str(error))
    if timeout_s:
        return Failure(NodePhase.TIMED_OUT, ErrorKind.USER,
                       f"the attempt ran past its timeout of {timeout_s:g} s and its "
                       f"worker was killed ({type(error).__name__})")
    return Failure(NodePhase.FAILED, ErrorKind.SYSTEM, f"{type(error).__name__}: {error}")
