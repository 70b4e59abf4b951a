"""The options of ``flyray run`` itself, apart from a task's inputs: each is accepted before
FILE and after NAME (``flyray run --remote FILE NAME`` or ``flyray run FILE NAME
--remote``), ``flyray run --help`` lists them all, and :func:`settle` decides what they
come to, with those of an execution spec file (``--exec-file``) under them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml
from click.core import ParameterSource

from engine.cli.envvars import parse_envvars
from engine.cli.inputs import read_mapping
from engine.core.image_spec import DEFAULT, Image, ImageSpec
from engine.dag.spec.labels import launch_fields, parse_pairs
from engine.errors import ConfigError, SpecError

# Where ``flyray run`` (the group) leaves the run options given before FILE, for the
# task's or workflow's command to settle with those given after NAME.
GIVEN_KEY = "flyray.run.given"
# Options that may repeat: those before FILE and those after NAME add up.
_REPEATABLE = ("label", "annotation", "envvars", "image")


class RunOption(click.Option):
    """An option of ``flyray run`` itself (not an input of the task or workflow)."""


def run_options() -> list[RunOption]:
    """The run options, as new objects (a click parameter belongs to one command)."""
    return [
        RunOption(["--remote"], is_flag=True, default=False,
                     help="Register FILE's package and launch NAME through the admin API."),
        RunOption(["--wait"], is_flag=True, default=False,
                     help="With --remote: follow the execution to its end, print outputs."),
        RunOption(["--project", "-p"], default=None,
                     help="With --remote: project (default: FLYRAY_PROJECT)."),
        RunOption(["--domain", "-d"], default=None,
                     help="With --remote: domain (default: FLYRAY_DOMAIN)."),
        RunOption(["--version", "-v"], default=None,
                     help="With --remote: version to register under (default: a hash of "
                     "the code and the specs)."),
        RunOption(["--name"], default=None,
                     help="With --remote: the execution's name (default: generated)."),
        RunOption(["--timeout"], default=None, metavar="SECONDS",
                     type=click.FloatRange(min=0, min_open=True),
                     help="With --remote: stop the execution once it has run this long "
                     "(it ends TIMED_OUT; default: no limit)."),
        RunOption(["--label"], multiple=True, metavar="KEY=VALUE",
                     help="With --remote: a label of the execution (repeatable), added to "
                     "the launch plan's; list by it with flyray get executions --label."),
        RunOption(["--annotation"], multiple=True, metavar="KEY=VALUE",
                     help="With --remote: an annotation of the execution (repeatable)."),
        RunOption(["--raw-output-prefix"], default=None, metavar="URI",
                     help="With --remote: where the execution writes its raw outputs "
                     "(files, dataframes, offloaded values), inside the blob store."),
        RunOption(["--endpoint"], default=None, metavar="URL",
                     help="With --remote: admin API URL (default: FLYRAY_ADMIN_ENDPOINT)."),
        RunOption(["--token"], default=None,
                     help="With --remote: admin API token (default: FLYRAY_ADMIN_TOKEN)."),
        RunOption(["--envvars", "--env", "-e"], multiple=True, metavar="KEY=VALUE",
                     help="An environment variable set for the tasks of a local run "
                     "(repeatable)."),
        RunOption(["--inputs-file"], type=click.Path(exists=True, dir_okay=False),
                     help="JSON or YAML file of input values; options given win."),
        RunOption(["--image"], multiple=True, metavar="[NAME=]IMAGE",
                     help="The image of tasks that give none, locally or --remote (repeatable; "
                     "NAME=IMAGE names one for container_image='{{.image.NAME.fullname}}'): "
                     "an image name, or an imagespec.yaml of ImageSpec fields, run as the "
                     "tasks' Ray runtime environment."),
        RunOption(["--exec-file"], type=click.Path(exists=True, dir_okay=False),
                     help="With --remote: a JSON or YAML execution spec: 'inputs' and the "
                     "run options (project, domain, name, timeout, labels, ...); options "
                     "given win."),
        RunOption(["--overwrite-cache"], is_flag=True, default=False,
                     help="Run cached tasks again and replace their cached results."),
        RunOption(["--progress/--no-progress"], default=None,
                     help="Live node display (default: on when stderr is a terminal)."),
    ]


def free_of(taken: Iterable[click.Parameter]) -> list[RunOption]:
    """The run options that none of ``taken`` (a task's inputs) clash with, by name or
    by flag: after NAME an input keeps its name, and a run option it hides is given
    before FILE instead."""
    params = list(taken)
    names = {p.name for p in params}
    flags = {flag for p in params for flag in (*p.opts, *p.secondary_opts)}
    return [o for o in run_options()
            if o.name not in names and not flags & {*o.opts, *o.secondary_opts}]


def given(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The run options of ``ctx``'s command that its command line gave, from ``values``
    (the command's parameter values)."""
    return {str(p.name): values[str(p.name)] for p in ctx.command.params
            if isinstance(p, RunOption) and ctx.get_parameter_source(str(p.name)) not in (
                None, ParameterSource.DEFAULT)}


@dataclass(frozen=True)
class RunOptions:
    """What the run options of one ``flyray run`` come to."""

    remote: bool = False
    wait: bool = False
    project: str | None = None
    domain: str | None = None
    version: str | None = None  # to register under (remote)
    name: str | None = None  # of the execution (remote)
    endpoint: str | None = None
    token: str | None = None
    timeout: float | None = None  # seconds the execution may run (remote)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    raw_output_prefix: str | None = None  # where its raw outputs go (remote)
    envvars: dict[str, str] = field(default_factory=dict)  # set for the tasks (local)
    inputs_file: str | None = None
    # By name; DEFAULT for tasks that give no image.
    images: dict[str, Image] = field(default_factory=dict)
    # The inputs of the execution spec file, as JSON values; the inputs file's and those
    # given as options win.
    exec_inputs: dict[str, Any] = field(default_factory=dict)
    overwrite_cache: bool = False
    progress: bool | None = None  # None: on when stderr is a terminal


def _check_remote_only(values: dict[str, Any]) -> None:
    if values.get("remote"):
        return
    if values.get("wait"):
        raise click.UsageError("--wait follows a remote execution: give --remote too")
    if values.get("timeout") is not None:
        raise click.UsageError("--timeout limits a remote execution: give --remote too")
    for flag in ("label", "annotation", "raw_output_prefix", "exec_file"):
        if values.get(flag):
            raise click.UsageError(f"--{flag.replace('_', '-')} is for a remote execution: "
                                   "give --remote too")


def settle(before: dict[str, Any], after: dict[str, Any]) -> RunOptions:
    """The run options given before FILE (``before``) and after NAME (``after``), as
    :func:`given` returns them, over those of the ``--exec-file``: one given after NAME
    wins; repeatable ones add up (a file's labels and annotations by key).

    Raises:
        click.UsageError: an option for remote runs without ``--remote``, or a bad
            ``KEY=VALUE`` pair.
        click.BadParameter: a bad execution spec file or image.
    """
    values = {**before, **after}
    for name in _REPEATABLE:
        values[name] = (*before.get(name, ()), *after.get(name, ()))
    _check_remote_only(values)
    spec = read_exec_file(values.pop("exec_file")) if values.get("exec_file") else ExecFile()
    values = {**spec.options, **values}
    try:
        labels = {**spec.labels, **parse_pairs(values.pop("label"), "--label")}
        annotations = {**spec.annotations,
                       **parse_pairs(values.pop("annotation"), "--annotation")}
        launch_fields(labels, annotations, values.get("raw_output_prefix"), "flyray run")
    except SpecError as e:
        raise click.UsageError(str(e)) from None
    envvars = parse_envvars(values.pop("envvars"))
    images = parse_images(values.pop("image"))
    return RunOptions(**values, labels=labels, annotations=annotations, envvars=envvars,
                      images=images, exec_inputs=spec.inputs)


def parse_images(given: Iterable[str]) -> dict[str, Image]:
    """``--image`` values (``[NAME=]IMAGE``) by name; an IMAGE ending in .yaml or .yml is
    an ImageSpec file. A later one of a name wins."""
    images: dict[str, Image] = {}
    for value in given:
        name, sep, image = value.partition("=")
        if not sep or "/" in name or ":" in name:  # '=' inside an image name is no NAME=
            name, image = DEFAULT, value
        if not name or not image:
            raise click.BadParameter(f"{value!r} must be IMAGE or NAME=IMAGE",
                                     param_hint="--image")
        images[name] = _image_spec_file(image) if image.endswith((".yaml", ".yml")) \
            else image
    return images


def _image_spec_file(path: str) -> ImageSpec:
    if not Path(path).is_file():
        raise click.BadParameter(f"no ImageSpec file {path}", param_hint="--image")
    try:
        return ImageSpec.from_dict(read_mapping(path, "--image"), path)
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--image") from None


@dataclass(frozen=True)
class ExecFile:
    """What an execution spec file (``--exec-file``) gives."""

    options: dict[str, Any] = field(default_factory=dict)  # run options by RunOptions name
    inputs: dict[str, Any] = field(default_factory=dict)  # JSON values by input name
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


# The keys of an execution spec file besides inputs, labels and annotations, with the type
# of their values.
_EXEC_OPTIONS: dict[str, tuple[type, ...]] = {
    "project": (str,), "domain": (str,), "version": (str,), "name": (str,),
    "timeout": (int, float), "raw_output_prefix": (str,), "endpoint": (str,),
    "overwrite_cache": (bool,), "wait": (bool,),
}
EXEC_KEYS = ("inputs", *_EXEC_OPTIONS, "labels", "annotations")


def read_exec_file(path: str) -> ExecFile:
    """The execution spec in ``path`` (JSON or YAML).

    Raises:
        click.BadParameter: an unknown key (the message lists the known ones) or a value
            of the wrong type.
    """
    data = read_mapping(path, "--exec-file")
    unknown = sorted(set(data) - set(EXEC_KEYS))
    if unknown:
        raise click.BadParameter(f"{path}: unknown key(s) {unknown}; an execution spec "
                                 f"takes {', '.join(EXEC_KEYS)}", param_hint="--exec-file")
    options = {k: v for k, v in data.items() if k in _EXEC_OPTIONS}
    for key, value in options.items():
        if not isinstance(value, _EXEC_OPTIONS[key]) or (
                isinstance(value, bool) and bool not in _EXEC_OPTIONS[key]):
            kind = " or ".join(t.__name__ for t in _EXEC_OPTIONS[key])
            raise click.BadParameter(f"{path}: '{key}' must be a {kind}, got {value!r}",
                                     param_hint="--exec-file")
    if options.get("timeout") is not None and options["timeout"] <= 0:
        raise click.BadParameter(f"{path}: 'timeout' must be positive seconds, got "
                                 f"{options['timeout']!r}", param_hint="--exec-file")
    return ExecFile(options, _mapping(data, "inputs", path, Any),
                    _mapping(data, "labels", path, str),
                    _mapping(data, "annotations", path, str))


def _mapping(data: Mapping[str, Any], key: str, path: str, value_type: Any) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value) or (
            value_type is str and not all(isinstance(v, str) for v in value.values())):
        of = "strings" if value_type is str else "values"
        raise click.BadParameter(f"{path}: '{key}' must map names to {of}, got "
                                 f"{yaml.safe_dump(value, default_flow_style=True).strip()}",
                                 param_hint="--exec-file")
    return dict(value)
