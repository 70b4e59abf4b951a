"""``BlobType``, at flytekit's path ``flytekit.models.core.types``: a leaf module of plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class _BlobDimensionality(IntEnum):
    """Whether a blob is one file (SINGLE) or a directory of files (MULTIPART); the values
    are flyteidl's."""

    SINGLE = 0
    MULTIPART = 1


@dataclass(frozen=True)
class BlobType:
    """The type of a blob literal, as flytekit's.

    Attributes:
        format: a free-form tag of the content ("csv", "binary"); "" for any.
        dimensionality: ``BlobType.BlobDimensionality.SINGLE`` or ``MULTIPART``.
    """

    BlobDimensionality = _BlobDimensionality

    format: str
    dimensionality: int
