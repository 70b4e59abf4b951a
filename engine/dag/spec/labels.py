"""Labels and annotations (key/value pairs on launch plans and executions) and the
raw-output prefix, checked as Kubernetes checks its own.

A key is an optional prefix, a DNS subdomain (at most 253 characters) followed by ``/``,
then a name of at most 63 characters: alphanumerics with ``-``, ``_`` or ``.`` inside. A
label value is empty or at most 63 characters of the name's alphabet; an annotation value
is any string, and all of one object's annotations together take at most 256 KiB.

Plain functions over plain data: they raise SpecError naming ``where``, the key and the
rule, so the SDK, the CLI and the control plane report the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SpecError

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_MAX = 63
PREFIX_MAX = 253
ANNOTATIONS_MAX_BYTES = 256 * 1024
_DNS = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
# A key as a pattern, for the API's label filter (a JSON Schema pattern too): [prefix/]name
# with the rules of check_key but the prefix's total length, which a pattern cannot
# state (a filter on a longer one matches nothing).
KEY_PATTERN = (rf"(?:{_DNS}(?:\.{_DNS})*/)?"
               rf"[A-Za-z0-9](?:[-A-Za-z0-9_.]{{0,{NAME_MAX - 2}}}[A-Za-z0-9])?")
NAME_RULE = (f"at most {NAME_MAX} characters, alphanumerics with '-', '_' or '.' inside, "
              "starting and ending with an alphanumeric")


@dataclass(frozen=True)
class Labels:
    """Labels of a launch plan or an execution, as flytekit's
    ``flytekit.models.common.Labels``: ``Labels({"team": "ml"})``."""

    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Annotations:
    """Annotations of a launch plan or an execution, as flytekit's
    ``flytekit.models.common.Annotations``."""

    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawOutputDataConfig:
    """Where an execution writes its raw outputs (files, directories, dataframes,
    offloaded values), as flytekit's ``flytekit.models.common.RawOutputDataConfig``."""

    output_location_prefix: str = ""


def values_of(given: Labels | Annotations | dict[str, str] | None) -> dict[str, str]:
    """The pairs of a ``Labels``, an ``Annotations``, a dict or None."""
    if given is None:
        return {}
    if isinstance(given, (Labels, Annotations)):
        return dict(given.values)
    return dict(given)


def prefix_of(given: RawOutputDataConfig | str | None) -> str | None:
    """The prefix of a ``RawOutputDataConfig``, a URI or None (an empty prefix is none)."""
    if isinstance(given, RawOutputDataConfig):
        return given.output_location_prefix or None
    return given or None


def launch_fields(labels: Labels | dict[str, str] | None,
                  annotations: Annotations | dict[str, str] | None,
                  raw_output_data_config: RawOutputDataConfig | str | None,
                  where: str) -> dict[str, Any]:
    """The checked fields of a launch request (``POST /api/v1/executions``) that set
    them; those not given are left out."""
    fields: dict[str, Any] = {}
    if checked := check_labels(values_of(labels), where):
        fields["labels"] = checked
    if checked := check_annotations(values_of(annotations), where):
        fields["annotations"] = checked
    prefix = check_prefix(prefix_of(raw_output_data_config), where)
    if prefix is not None:
        fields["raw_output_data_config"] = {"output_location_prefix": prefix}
    return fields


def check_key(key: Any, where: str, kind: str) -> str:
    """``key`` if it is a valid label or annotation key ([prefix/]name), else SpecError."""
    if not isinstance(key, str):
        raise SpecError(f"{where}: {kind} key {key!r} must be a string")
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > PREFIX_MAX or not all(
            _DNS_LABEL.match(part) for part in prefix.split("."))):
        raise SpecError(
            f"{where}: {kind} key {key!r} has an invalid prefix {prefix!r}: it must be a "
            f"DNS subdomain (lowercase alphanumerics, '-' and '.', at most {PREFIX_MAX} "
            "characters), e.g. 'example.com/team'")
    if not name or len(name) > NAME_MAX or not _NAME.match(name):
        raise SpecError(f"{where}: {kind} key {key!r} has an invalid name {name!r}: it must "
                        f"be {NAME_RULE}")
    return key


def check_labels(values: Any, where: str) -> dict[str, str]:
    """``values`` as a dict of valid labels (``None`` is empty), else SpecError."""
    labels = _mapping(values, where, "labels")
    for key, value in labels.items():
        check_key(key, where, "label")
        if not isinstance(value, str):
            raise SpecError(f"{where}: label {key!r} must have a string value, got "
                            f"{type(value).__name__}")
        if value and (len(value) > NAME_MAX or not _NAME.match(value)):
            raise SpecError(f"{where}: label {key!r} has an invalid value {value!r}: it "
                            f"must be empty or {NAME_RULE}")
    return labels


def check_annotations(values: Any, where: str) -> dict[str, str]:
    """``values`` as a dict of valid annotations (``None`` is empty), else SpecError."""
    annotations = _mapping(values, where, "annotations")
    size = 0
    for key, value in annotations.items():
        check_key(key, where, "annotation")
        if not isinstance(value, str):
            raise SpecError(f"{where}: annotation {key!r} must have a string value, got "
                            f"{type(value).__name__}")
        size += len(key.encode()) + len(value.encode())
    if size > ANNOTATIONS_MAX_BYTES:
        raise SpecError(f"{where}: annotations take {size} bytes, more than the "
                        f"{ANNOTATIONS_MAX_BYTES} (256 KiB) allowed; store large values "
                        "elsewhere and annotate a reference")
    return annotations


def check_prefix(prefix: Any, where: str) -> str | None:
    """``prefix`` if it is None or a URI (``scheme://...``), else SpecError. Whether it
    lies inside a blob store is the control plane's check, which knows the store."""
    if prefix is None:
        return None
    if not isinstance(prefix, str) or not prefix.strip():
        raise SpecError(f"{where}: raw output prefix must be a non-empty URI string, got "
                        f"{prefix!r}")
    scheme, found, rest = prefix.partition("://")
    if not found or not scheme or not rest.strip("/"):
        raise SpecError(f"{where}: raw output prefix {prefix!r} must be a URI such as "
                        "'s3://bucket/raw' or 'file:///data/raw'")
    return prefix


def parse_pairs(pairs: list[str] | tuple[str, ...], kind: str, sep: str = "=") -> dict[str, str]:
    """``["k=v", ...]`` (the CLI's ``--label k=v``) as a dict, else SpecError."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, found, value = pair.partition(sep)
        if not found or not key:
            raise SpecError(f"{kind} {pair!r} must be KEY{sep}VALUE")
        result[key] = value
    return result


def _mapping(values: Any, where: str, kind: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise SpecError(f"{where}: {kind} must be an object of key -> string value, got "
                        f"{type(values).__name__}")
    return dict(values)
