"""``EagerException``, as flytekit's: a task awaited in an @eager workflow failed."""

from __future__ import annotations

from engine.exceptions.user import FlyteUserException


class EagerException(FlyteUserException):
    """Raised at the ``await`` of a task that failed inside an ``@eager`` body."""
