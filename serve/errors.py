"""Errors of the control plane, under :class:`engine.errors.FlyrayError`.

Each carries a ``kind`` that the API writes as ``{"error": {"kind": ..., "message": ...}}``
and maps onto an HTTP status (``serve.api.errors``); the store raises them without
knowing about HTTP.
"""

from __future__ import annotations

from typing import ClassVar

from engine.errors import FlyrayError


class AdminError(FlyrayError):
    """Base class of the admin API's errors."""

    kind: ClassVar[str] = "INTERNAL"


class InvalidArgumentError(ValueError, AdminError):
    """The request is malformed or inconsistent (bad id, spec, input value, reference)."""

    kind = "INVALID_ARGUMENT"


class NotFoundError(LookupError, AdminError):
    """The entity, project or domain asked for does not exist."""

    kind = "NOT_FOUND"


class ConflictError(AdminError):
    """An entity exists under this id with another spec: registered entities are immutable.

    Attributes:
        paths: JSON paths at which the given spec differs from the registered one.
    """

    kind = "ALREADY_EXISTS"

    def __init__(self, message: str, paths: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths = list(paths or [])


class StoreError(AdminError):
    """The admin database cannot be opened, read or written."""

    kind = "UNAVAILABLE"


class ExecutionsUnavailableError(AdminError):
    """This admin server cannot start executions (it was built without a launcher)."""

    kind = "UNAVAILABLE"


class ExecutionEndedError(AdminError):
    """The execution already ended, so what was asked of it (terminate) cannot be done:
    the request is well formed, the execution's state is what refuses it."""

    kind = "FAILED_PRECONDITION"


class DriverFencedError(AdminError):
    """A driver wrote for an execution it no longer drives: a newer driver incarnation
    took it over, or it already ended. The driver stops; nothing it sent is kept."""

    kind = "FAILED_PRECONDITION"


class CodeLoadError(AdminError):
    """A driver cannot load the registered code of what it runs (import failed, the
    object is missing, or it does not compile to the registered spec)."""

    kind = "FAILED_PRECONDITION"


class OutsideBlobStoreError(AdminError):
    """A record names a URI outside the server's blob store (its driver ran with another
    ``blob_root``): the admin reads only under its own root, so it does not serve it."""

    kind = "FAILED_PRECONDITION"


class BlobStoreUnavailableError(AdminError):
    """The server's blob store cannot be read (unreachable, access denied)."""

    kind = "UNAVAILABLE"
