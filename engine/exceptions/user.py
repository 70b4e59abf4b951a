"""User-side exceptions, as ``flytekit.exceptions.user``."""

from __future__ import annotations

from engine.errors import FlyrayError


class FlyteUserException(FlyrayError):
    """Base of exceptions a task raises on purpose."""


class FlyteRecoverableException(FlyteUserException):
    """Raise it from a task to mark a failure worth retrying (within ``retries``)."""
