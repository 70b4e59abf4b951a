"""Input values given apart from a task's generated options: an inputs file (JSON or YAML,
``--inputs-file``), the inputs of an execution spec file (``--exec-file``) and
``--input NAME=VALUE`` pairs (``flyray launch``), converted to the Python types of an
interface."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import yaml

from engine.cli.params import convert_enum, param_type
from engine.types.interface import PythonInterface
from engine.types.type_engine import TypeEngine


def read_mapping(path: str, hint: str) -> dict[str, Any]:
    """The object that ``path`` (.json, .yaml, .yml) holds; ``hint`` names the option that
    gave the file in errors."""
    text = Path(path).read_text()
    try:
        data = yaml.safe_load(text) if path.endswith((".yaml", ".yml")) else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise click.BadParameter(f"cannot parse {path}: {e}", param_hint=hint) from e
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} must hold an object (a mapping of names to values)",
                                 param_hint=hint)
    return data


def read_inputs_file(path: str) -> dict[str, Any]:
    """The object of input names to JSON values that ``path`` (.json, .yaml, .yml) holds."""
    return read_mapping(path, "--inputs-file")


def _check_names(names: Iterable[str], iface: PythonInterface, what: str, hint: str,
                 fixed: Iterable[str]) -> None:
    given = set(names)
    if given & set(fixed):
        raise click.BadParameter(f"input(s) {sorted(given & set(fixed))} are fixed by {what}; "
                                 "they cannot be given", param_hint=hint)
    unknown = sorted(given - set(iface.inputs))
    if unknown:
        raise click.BadParameter(f"unknown input(s) {unknown}; {what} takes "
                                 f"{', '.join(iface.inputs) or 'no inputs'}", param_hint=hint)


def from_file(path: str, iface: PythonInterface, what: str,
              fixed: Iterable[str] = ()) -> dict[str, Any]:
    """The inputs in the file ``path`` as Python values of ``iface`` (of ``what``, whose
    ``fixed`` inputs cannot be given)."""
    return from_json(read_inputs_file(path), iface, what, "--inputs-file", fixed)


def from_json(data: dict[str, Any], iface: PythonInterface, what: str, hint: str,
              fixed: Iterable[str] = ()) -> dict[str, Any]:
    """Input values written as JSON (from a file given by the option ``hint``) as Python
    values of ``iface`` (of ``what``)."""
    _check_names(data, iface, what, hint, fixed)
    values = {}
    for name, value in data.items():
        try:
            values[name] = TypeEngine.from_json(value, iface.inputs[name])
        except (TypeError, ValueError) as e:
            raise click.BadParameter(f"input '{name}' in {hint}: {e}", param_hint=hint) from e
    return values


def from_pairs(pairs: Iterable[str], iface: PythonInterface, what: str,
               fixed: Iterable[str] = ()) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as Python values of ``iface`` (of ``what``), each VALUE
    written as ``flyray run`` takes that input's option: numbers and strings as they
    are, JSON for lists, dicts, dataclasses and booleans, ISO 8601 for datetimes."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} must be NAME=VALUE", param_hint="--input")
        _check_names([name], iface, what, "--input", fixed)
        python_type = iface.inputs[name]
        try:
            value = param_type(python_type).convert(text, None, None)
        except click.BadParameter as e:
            raise click.BadParameter(f"input '{name}': {e.message}", param_hint="--input") \
                from None
        values[name] = convert_enum(value, python_type)
    return values
