"""Command-line options generated from a typed interface."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import typing
from pathlib import Path
from typing import Any

import click

from engine.types.interface import PythonInterface
from engine.types.literal import Kind
from engine.types.type_engine import TypeEngine

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
                       r"(?:(\d+(?:\.\d+)?)s)?$")


class JsonParam(click.ParamType):
    """A value given as JSON, converted through the type engine."""

    def __init__(self, python_type: Any) -> None:
        self.python_type = python_type
        self.name = f"json {_type_label(python_type)}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            self.fail(f"{value!r} is not valid JSON for {_type_label(self.python_type)}",
                      param, ctx)
        try:
            return TypeEngine.from_json(data, self.python_type)
        except (TypeError, ValueError) as e:
            self.fail(f"{value!r} is not a valid {_type_label(self.python_type)}: {e}",
                      param, ctx)


class DateTimeParam(click.ParamType):
    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.datetime):
            return value
        if value == "now":
            return dt.datetime.now(dt.timezone.utc)
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date-time like 2024-01-31T12:00:00",
                      param, ctx)


class DurationParam(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.timedelta):
            return value
        text = str(value).strip()
        try:
            return dt.timedelta(seconds=float(text))
        except ValueError:
            pass
        match = _DURATION.match(text)
        if text and match:
            d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
            return dt.timedelta(days=d, hours=h, minutes=m, seconds=s)
        self.fail(f"{value!r} is not a duration; use seconds (90) or units (1h30m, 2d, 45s)",
                  param, ctx)


class DataFrameParam(click.ParamType):
    name = "dataframe file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        import pandas as pd  # heavy; only loaded when a DataFrame input is given

        path = Path(value)
        if not path.is_file():
            self.fail(f"{value!r} is not a file; give a .parquet or .csv file", param, ctx)
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path)
        self.fail(f"{value!r}: only .parquet and .csv files can be read as a DataFrame",
                  param, ctx)


class BlobParam(click.ParamType):
    """A file or directory input: a local path or a URI (s3://...)."""

    def __init__(self, python_type: Any, directory: bool) -> None:
        self.python_type = python_type
        self.directory = directory
        self.name = "directory" if directory else "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if "://" not in value:
            path = Path(value)
            if not (path.is_dir() if self.directory else path.is_file()):
                self.fail(f"{value!r} is not an existing {self.name}", param, ctx)
            value = str(path.resolve())
        return self.python_type(value)


def _type_label(python_type: Any) -> str:
    return str(TypeEngine.to_literal_type(python_type))


def param_type(python_type: Any) -> click.ParamType:
    """The click type that parses ``python_type`` from the command line."""
    args = typing.get_args(python_type)
    if type(None) in args and len(args) == 2:
        inner = next(a for a in args if a is not type(None))
        if inner in (int, float, str) or isinstance(inner, type) and issubclass(inner, enum.Enum):
            return param_type(inner)
    if python_type is int:
        return click.INT
    if python_type is float:
        return click.FLOAT
    if python_type is str:
        return click.STRING
    if python_type is dt.datetime:
        return DateTimeParam()
    if python_type is dt.timedelta:
        return DurationParam()
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return click.Choice([m.value for m in python_type])
    literal = TypeEngine.to_literal_type(python_type)
    if literal.kind is Kind.DATAFRAME:
        return DataFrameParam()
    if literal.kind is Kind.BLOB:
        return BlobParam(python_type, literal.multipart)
    return JsonParam(python_type)


def _cli_text(value: Any, python_type: Any) -> Any:
    """How a default value is written on the command line (shown in --help)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds():g}s"
    try:
        return json.dumps(TypeEngine.to_json(value, python_type))
    except TypeError:
        return None


def build_options(iface: PythonInterface) -> list[click.Option]:
    """One option per input. None is required by click, so that --inputs-file can give
    it; the caller tells given values from defaults by the parameter's source."""
    options = []
    for name, python_type in iface.inputs.items():
        has_default = name in iface.defaults
        default = _cli_text(iface.defaults.get(name), python_type)
        help_text = _type_label(python_type) + ("" if has_default else " (required)")
        decls = [f"--{name}/--no-{name}"] if python_type is bool else [f"--{name}"]
        options.append(click.Option(
            decls, type=None if python_type is bool else param_type(python_type),
            default=default, show_default=has_default and default is not None,
            help=help_text,
        ))
    return options


def convert_enum(value: Any, python_type: Any) -> Any:
    """click.Choice yields the string value; the task wants the Enum member."""
    candidates = [python_type, *typing.get_args(python_type)]
    for t in candidates:
        if isinstance(t, type) and issubclass(t, enum.Enum) and isinstance(value, str):
            return t(value)
    return value
