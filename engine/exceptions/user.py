"""User-side exceptions, as ``flytekit.exceptions.user``."""

from __future__ import annotations

from engine.errors import EntityNotFoundError, FlyrayError, WaitTimeoutError


class FlyteUserException(FlyrayError):
    """Base of exceptions a task raises on purpose."""


class FlyteRecoverableException(FlyteUserException):
    """Raise it from a task to mark a failure worth retrying (within ``retries``)."""


# What FlyteRemote raises, under flytekit's names: ``wait()`` timing out, and a fetch of
# something the admin API does not hold.
FlyteTimeout = WaitTimeoutError
FlyteEntityNotExistException = EntityNotFoundError
