"""How a ``ContainerTask``'s data goes in and out, as Flyte's data loading (its co-pilot)
moves it: the ``{{.inputs.x}}`` templates, the input files, the output files.

Before the command starts, each input is a file named after it in the directory
mounted at ``input_data_dir``: a value as text (Go's formatting, as Flyte writes it),
a FlyteFile or FlyteDirectory copied there whole; all of them are also listed in
``inputs.json`` (``inputs.yaml``). The command leaves each output as a file named after
it in the directory mounted at ``output_data_dir``.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import shutil
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from engine.dag.spec import ContainerSpec
from engine.errors import ConfigError, DataError
from engine.types._blob import Blob

# Flyte's template of an input (propeller's): {{.inputs.x}}, {{ $Inputs.x }}.
_INPUT = re.compile(r"(?i)\{\{\s*[.$]inputs\.([^}\s]+)\s*\}\}")
# Flyte's other templates: remote prefixes and files that Flyray has no equivalent of.
_OTHER = re.compile(
    r"(?i)\{\{\s*[.$](outputs\.[^}\s]+|input|inputprefix|outputprefix|rawoutputdataprefix"
    r"|perretryuniquekey|tasktemplatepath|prevcheckpointprefix|checkpointoutputprefix)\s*\}\}"
)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go's strconv.ParseBool, as Flyte reads
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INTEGER = re.compile(r"[+-]?[0-9]+")


def check_templates(parts: list[str], inputs: list[str], container: ContainerSpec,
                    what: str) -> None:
    """Fail on a template that names no input, or that Flyray cannot fill."""
    for part in parts:
        other = _OTHER.search(part)
        if other and other.group(1).lower().startswith("outputs."):
            var = other.group(1).split(".", 1)[1]
            raise ConfigError(
                f"{what}: {other.group(0)} in {part!r} is not a Flyte template; the command "
                f"writes output '{var}' to the file {container.output_data_dir}/{var}"
            )
        if other:
            raise ConfigError(
                f"{what}: {part!r} uses {other.group(0)}, a Flyte template Flyray cannot "
                "fill; inputs are {{.inputs.<name>}} or files in "
                f"{container.input_data_dir}, outputs files in {container.output_data_dir}"
            )
        for var in _INPUT.findall(part):
            if var not in inputs:
                raise ConfigError(f"{what}: {part!r} uses input '{var}', which the task "
                                  f"does not declare; inputs are {inputs or 'none'}")


def render_value(value: Any) -> str:
    """A value as Flyte writes it into a file or a command (Go's formatting)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        text = format(Decimal(repr(value)), "f")  # never an exponent, as Go's 'f', -1
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def render_command(parts: list[str], values: Mapping[str, str], what: str) -> list[str]:
    """``parts`` with every ``{{.inputs.x}}`` replaced by ``values[x]``."""

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ConfigError(f"{what}: {match.group(0)} names no input; inputs are "
                              f"{list(values) or 'none'}")
        return values[match.group(1)]

    return [_INPUT.sub(value, part) for part in parts]


def as_value(value: Any, python_type: Any) -> Any:
    """A path given for a file or directory input (a call outside workflows) as a Blob."""
    if isinstance(python_type, type) and issubclass(python_type, Blob) and \
            not isinstance(value, Blob):
        return python_type(os.fspath(value))
    return value


def write_inputs(directory: Path, inputs: Mapping[str, Any],
                 container: ContainerSpec) -> dict[str, str]:
    """Write each input into ``directory`` (mounted at ``input_data_dir``) as a file named
    after it, and all of them into ``inputs.json``/``inputs.yaml``; return what each
    ``{{.inputs.x}}`` becomes."""
    rendered: dict[str, str] = {}
    listing: dict[str, Any] = {}
    for name, value in inputs.items():
        target = directory / name
        if isinstance(value, Blob):
            source = value.download()
            if type(value).multipart:
                shutil.copytree(source, target)
            else:
                shutil.copyfile(source, target)
            rendered[name] = listing[name] = posixpath.join(container.input_data_dir, name)
        else:
            rendered[name] = render_value(value)
            target.write_text(rendered[name])
            listing[name] = value
    if container.metadata_format == "YAML":
        (directory / "inputs.yaml").write_text(yaml.safe_dump(listing))
    else:
        (directory / "inputs.json").write_text(json.dumps(listing))
    return rendered


def parse_value(text: str, python_type: Any, where: str) -> Any:
    """The value of an output file's text, blanks around it dropped (as Flyte reads it)."""
    s = text.strip(" \n\t")
    if python_type is str:
        return s
    if python_type is bool:
        if s in _TRUE or s in _FALSE:
            return s in _TRUE
    elif python_type is int:
        if _INTEGER.fullmatch(s):
            return int(s)
    else:
        try:
            return float(s)
        except ValueError:
            pass
    raise DataError(f"{where}: {s[:80]!r} is not a {python_type.__name__}; the command must "
                    f"write the value alone, e.g. {render_value(python_type(1))!r}")


def read_outputs(directory: Path, outputs: Mapping[str, Any], container: ContainerSpec,
                 what: str) -> list[Any]:
    """The outputs the command left in ``directory`` (mounted at ``output_data_dir``)."""
    values = []
    for name, python_type in outputs.items():
        path = directory / name
        where = f"{what}: output '{name}' ({container.output_data_dir}/{name})"
        blob = isinstance(python_type, type) and issubclass(python_type, Blob)
        noun = "directory" if blob and python_type.multipart else "file"
        if not (path.is_dir() if noun == "directory" else path.is_file()):
            raise DataError(f"{where}: the command wrote no {noun} there; write the output "
                            f"'{name}' to {container.output_data_dir}/{name}")
        values.append(python_type(str(path)) if blob
                      else parse_value(path.read_text(), python_type, where))
    return values
