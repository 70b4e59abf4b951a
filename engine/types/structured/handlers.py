"""Encoders and decoders of dataframes in storage formats, as flytekit's
``StructuredDatasetEncoder`` / ``StructuredDatasetDecoder``, and their registry.

Inside an execution a dataframe passes between tasks in memory; a registered encoder writes
it where a task's output asks for its format (``Annotated[StructuredDataset, CSV]``, a
``StructuredDataset(..., file_format=...)``, or the format made the default for its type),
or where its Python type has no in-memory flavour (a ``numpy.ndarray``). A decoder reads a
stored dataset as the type ``sd.open(T)`` asks for. Handlers are keyed by (Python type,
protocol, format); an empty protocol serves every protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from engine.errors import InterfaceError
from engine.models import literals
from engine.models.types import StructuredDatasetType
from engine.types import registrations

if TYPE_CHECKING:
    from engine.types.structured.structured_dataset import StructuredDataset

PARQUET = "parquet"
CSV = "csv"
GENERIC_FORMAT = ""


class _Handler:
    """What encoders and decoders share: the key they are registered under."""

    def __init__(self, python_type: type, protocol: str | None = None,
                 supported_format: str | None = None) -> None:
        self._python_type = python_type
        self._protocol = (protocol or "").removesuffix("://")
        self._supported_format = supported_format or GENERIC_FORMAT

    @property
    def python_type(self) -> type:
        return self._python_type

    @property
    def protocol(self) -> str:
        """The storage protocol served ("s3", "file"); "" for all."""
        return self._protocol

    @property
    def supported_format(self) -> str:
        return self._supported_format


class StructuredDatasetEncoder(_Handler, ABC):
    """Writes dataframes of ``python_type`` in ``supported_format``; subclass and register."""

    @abstractmethod
    def encode(self, ctx: Any, structured_dataset: StructuredDataset,
               structured_dataset_type: StructuredDatasetType) -> literals.StructuredDataset:
        """Store ``structured_dataset.dataframe`` (through ``ctx.file_access``) and return
        the literal saying where."""


class StructuredDatasetDecoder(_Handler, ABC):
    """Reads datasets stored in ``supported_format`` as ``python_type``; subclass and
    register."""

    def __init__(self, python_type: type, protocol: str | None = None,
                 supported_format: str | None = None,
                 additional_protocols: list[str] | None = None) -> None:
        super().__init__(python_type, protocol, supported_format)
        self.additional_protocols = list(additional_protocols or ())

    @abstractmethod
    def decode(self, ctx: Any, flyte_value: literals.StructuredDataset,
               current_task_metadata: literals.StructuredDatasetMetadata) -> Any:
        """The dataset stored at ``flyte_value.uri``, as ``python_type``."""


Handler = StructuredDatasetEncoder | StructuredDatasetDecoder


class StructuredDatasetTransformerEngine:
    """The registry of dataframe encoders and decoders, as flytekit's (its ``register``)."""

    ENCODERS: ClassVar[dict[tuple[type, str, str], StructuredDatasetEncoder]] = {}
    DECODERS: ClassVar[dict[tuple[type, str, str], StructuredDatasetDecoder]] = {}
    # The format a type's dataframes are written in when their output names none.
    DEFAULT_FORMATS: ClassVar[dict[type, str]] = {}

    @classmethod
    def register(cls, h: Handler, default_for_type: bool = False, override: bool = False,
                 default_format_for_type: bool = False,
                 default_storage_for_type: bool = False) -> None:
        """Register an encoder or decoder under (python type, protocol, format).

        A handler of another class already registered under the same key is replaced only
        with ``override``. ``default_for_type`` or ``default_format_for_type`` makes its
        format the one the type is written in by default, unless one is set already (as in
        flytekit; pandas and Arrow, which pass between tasks in memory, have none).
        ``default_storage_for_type`` is accepted as in flytekit; the storage is the
        execution's blob store either way.
        """
        registrations.record(cls.register, h, default_for_type, override,
                             default_format_for_type, default_storage_for_type)
        table: dict[Any, Any] = cls.ENCODERS if isinstance(h, StructuredDatasetEncoder) \
            else cls.DECODERS
        protocols = [h.protocol] + (h.additional_protocols
                                    if isinstance(h, StructuredDatasetDecoder) else [])
        for protocol in protocols:
            key = (h.python_type, protocol, h.supported_format)
            known = table.get(key)
            if known is not None and type(known) is not type(h) and not override:
                raise InterfaceError(
                    f"{type(known).__name__} is already registered for {key}; pass "
                    f"override=True to replace it with {type(h).__name__}")
            table[key] = h
        if (default_for_type or default_format_for_type) and (
                override or h.python_type not in cls.DEFAULT_FORMATS):
            cls.DEFAULT_FORMATS[h.python_type] = h.supported_format

    @classmethod
    def encoder(cls, python_type: type, protocol: str,
                fmt: str) -> StructuredDatasetEncoder | None:
        found: StructuredDatasetEncoder | None = _lookup(cls.ENCODERS, python_type, protocol, fmt)
        return found

    @classmethod
    def decoder(cls, python_type: type, protocol: str,
                fmt: str) -> StructuredDatasetDecoder | None:
        found: StructuredDatasetDecoder | None = _lookup(cls.DECODERS, python_type, protocol, fmt)
        return found


def _lookup(table: dict[tuple[type, str, str], Any], python_type: type, protocol: str,
            fmt: str) -> Any:
    """The handler for the exact key, else for any protocol, else for the generic format."""
    for key in ((python_type, protocol, fmt), (python_type, "", fmt),
                (python_type, protocol, GENERIC_FORMAT), (python_type, "", GENERIC_FORMAT)):
        if key in table:
            return table[key]
    return None
