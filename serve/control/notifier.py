"""The admin's notifier: a daemon thread that sends the notifications of ended executions
(the outbox ``serve.store.notifications`` fills as they end) and records every attempt.

At least once: a notification is claimed (leased) before it is sent and marked SENT
after; a failed attempt is tried again after an exponentially growing wait, up to
``DeliveryPolicy.max_attempts``, then marked FAILED with its last error. Errors that
another attempt cannot fix (no SMTP server configured, a 4xx answer, a refused address)
give up at once. Nothing here touches the execution: a notification that cannot be sent
never blocks or fails its run. Several admin replicas may run one each.

The channels (``serve.control.channels``) make and send the messages.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from engine.config import Settings
from serve.control.channels import Outcome, send
from serve.store import AdminStore
from serve.store.notifications import Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How the notifier looks for work and retries."""

    # Seconds between looks for due notifications while there are none.
    poll_s: float = 1.0
    # Attempts per notification before it is given up (FAILED).
    max_attempts: int = 6
    # Wait before the second attempt; each later wait is ``factor`` times longer, at
    # most ``max_retry_s`` (by default 5 s, 15 s, 45 s, ~2 min, ~7 min: ten minutes in all).
    first_retry_s: float = 5.0
    factor: float = 3.0
    max_retry_s: float = 900.0
    # Seconds one network operation of an attempt may take (connect, each SMTP command,
    # an HTTP request).
    timeout_s: float = 10.0
    # Notifications sent in one pass before the thread looks at stop requests again.
    pass_limit: int = 100

    @property
    def lease_s(self) -> float:
        """How long a claimed attempt may run before another sender may take it over
        (its sender presumed dead): well past what one attempt can take."""
        return 10 * self.timeout_s + 30

    def retry_in(self, attempts: int) -> float | None:
        """Seconds to wait after ``attempts`` failed ones; None: give up."""
        if attempts >= self.max_attempts:
            return None
        return min(self.max_retry_s, self.first_retry_s * self.factor ** (attempts - 1))


class Notifier:
    """Sends due notifications every ``policy.poll_s`` in a daemon thread."""

    def __init__(self, store: AdminStore, settings: Settings,
                 policy: DeliveryPolicy | None = None) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy or DeliveryPolicy()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="flyray-notifier",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
            except Exception:  # a failed pass (the database is down): tried later
                log.exception("notifier: this pass failed")
            self._stop.wait(self.policy.poll_s)

    def send_due(self) -> int:
        """Send the notifications due now, one claim at a time (so each holds its lease
        only while it is sent); returns how many were attempted."""
        attempted = 0
        while attempted < self.policy.pass_limit and not self._stop.is_set():
            if not self.store.notifications_due():
                break
            claimed = self.store.claim_notifications(1, self.policy.lease_s)
            if not claimed:  # another replica took it
                break
            self.attempt(claimed[0])
            attempted += 1
        return attempted

    def attempt(self, delivery: Delivery) -> None:
        """Send one claimed notification and record how it went."""
        try:
            outcome = send(delivery, self.settings, self.policy.timeout_s)
        except Exception as e:  # a bug of a channel: recorded, and tried again
            log.exception("notifier: sending %s failed", _describe(delivery))
            outcome = Outcome(f"internal error of the notifier: {type(e).__name__}: {e}")
        retry = None if outcome.permanent else self.policy.retry_in(delivery.attempts)
        if outcome.error is not None:
            log.warning("notifier: %s, attempt %d: %s%s", _describe(delivery),
                        delivery.attempts, outcome.error,
                        "; giving up" if retry is None else f"; again in {retry:g} s")
        self.store.record_attempt(delivery.key, delivery.attempts, outcome.error, retry)


def _describe(delivery: Delivery) -> str:
    return (f"{delivery.notification.kind.value} notification {delivery.position} of "
            f"execution {delivery.execution}")
