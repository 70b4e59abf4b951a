"""How an ended attempt is written into its records, how a failed one failed, and
whether it is tried again.

The one place where the driver tells failures apart: an :class:`AttemptError` carries
the worker's own verdict (user or system, timed out, recoverable); any other error
raised by the attempt's Ray task is a system failure, the attempt lost with its worker,
Ray node or objects; a worker killed once the attempt ran past its task's timeout (the
worker kills itself then) is a user failure, TIMED_OUT. :class:`RetryBudget` says how
many failures of each sort a node survives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ray.exceptions import RayError, RayTaskError

from engine.dag.run.state import AttemptRecord, NodePhase, NodeRecord, nodes_from_rows
from engine.dag.run.worker import AttemptInfo, record_failure, record_success
from engine.errors import AttemptError, ErrorKind

# Retries a FlyteRecoverableException gets beyond the task's own ``retries``: the user
# says the failure is transient.
RECOVERABLE_RETRIES = 3


@dataclass(frozen=True)
class Failure:
    """How an attempt failed, as the driver decides whether to retry it."""

    outcome: NodePhase  # FAILED or TIMED_OUT
    kind: ErrorKind
    message: str
    # The user said the failure is transient (FlyteRecoverableException): it may be
    # retried beyond the task's own retries.
    recoverable: bool = False
    # The attempt did not report how it ended: Ray lost its worker, its node or its
    # objects, or failed it outside the task's code. Retried on the node's budget for
    # system failures, not on the task's retries.
    lost: bool = False


@dataclass(frozen=True)
class RetryBudget:
    """How many failed attempts of one node are tried again, by the sort of failure.

    A failure the attempt reported (its code raised, it ran past its timeout, or it
    found its blob store, catalog, container runtime or admin API failing) draws on
    the task's ``retries``, and a FlyteRecoverableException on ``RECOVERABLE_RETRIES``
    more. An attempt lost with its worker or Ray node draws on ``max_system_retries``
    (Flyte's max-node-retries-system-failures), so that an infrastructure event does not
    fail a run whose task has no retries. A node fails once either budget is spent.
    """

    retries: int  # the task's (or the node's override)
    max_system_retries: int  # the settings'

    def allows(self, failure: Failure, failures: int) -> bool:
        """Whether ``failure`` is tried again, ``failures`` counting the node's failures
        on its budget (lost, or reported) so far, this one included."""
        return failures <= self._limit(failure)

    def spent(self, failure: Failure) -> str:
        """Which budget ``failure`` spent, as a sentence for the node's error ("" for a
        task with no retries: a failure it reported is simply final)."""
        limit = self._limit(failure)
        if failure.lost:
            if not limit:
                return "System retries are off (max_system_retries=0)."
            return f"The node's {_retries(limit, 'system ')} spent (max_system_retries={limit})."
        if not limit:
            return ""
        extra = f", plus {RECOVERABLE_RETRIES} for a FlyteRecoverableException" \
            if failure.recoverable else ""
        return f"The node's {_retries(limit)} spent (retries={self.retries}{extra})."

    def _limit(self, failure: Failure) -> int:
        if failure.lost:
            return self.max_system_retries
        return self.retries + (RECOVERABLE_RETRIES if failure.recoverable else 0)


def _retries(n: int, sort: str = "") -> str:
    return f"{n} {sort}retry is" if n == 1 else f"{n} {sort}retries are"


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


def outputs_unstored(attempt: AttemptRecord, error: Exception) -> Failure:
    """Fill ``attempt``, which succeeded but whose outputs the driver could not store
    durably (the blob store failed past its retries): a system failure, retried on the
    node's budget for system failures, as an attempt whose outputs were lost is."""
    attempt.end = time.time()
    attempt.outcome, attempt.error_kind = NodePhase.FAILED, ErrorKind.SYSTEM
    attempt.error = f"the task succeeded, but its outputs could not be stored: {error}"
    attempt.cache_status = None
    return Failure(NodePhase.FAILED, ErrorKind.SYSTEM, attempt.error, lost=True)


def _system_failure(error: RayError, timeout_s: float | None) -> Failure:
    """How an attempt failed that did not report its own failure: its Ray task raised,
    or its worker died."""
    if isinstance(error, RayTaskError):
        return Failure(NodePhase.FAILED, ErrorKind.SYSTEM, str(error), lost=True)
    if timeout_s:
        return Failure(NodePhase.TIMED_OUT, ErrorKind.USER,
                       f"the attempt ran past its timeout of {timeout_s:g} s and its "
                       f"worker was killed ({type(error).__name__})")
    return Failure(NodePhase.FAILED, ErrorKind.SYSTEM, f"{type(error).__name__}: {error}",
                   lost=True)
