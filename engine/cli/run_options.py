"""The options of ``flyray run`` itself, apart from a task's inputs: each is accepted before
FILE and after NAME (``flyray run --remote FILE NAME`` or ``flyray run FILE NAME
--remote``), ``flyray run --help`` lists them all, and :func:`settle` decides what they
come to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import click
from click.core import ParameterSource

from engine.cli.envvars import parse_envvars
from engine.dag.spec.labels import launch_fields, parse_pairs
from engine.errors import SpecError

# Where ``flyray run`` (the group) leaves the run options given before FILE, for the
# task's or workflow's command to settle with those given after NAME.
GIVEN_KEY = "flyray.run.given"
# Options that may repeat: those before FILE and those after NAME add up.
_REPEATABLE = ("label", "annotation", "envvars")


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
    overwrite_cache: bool = False
    progress: bool | None = None  # None: on when stderr is a terminal


def _check_remote_only(values: dict[str, Any]) -> None:
    if values.get("remote"):
        return
    if values.get("wait"):
        raise click.UsageError("--wait follows a remote execution: give --remote too")
    if values.get("timeout") is not None:
        raise click.UsageError("--timeout limits a remote execution: give --remote too")
    for flag in ("label", "annotation", "raw_output_prefix"):
        if values.get(flag):
            raise click.UsageError(f"--{flag.replace('_', '-')} is for a remote execution: "
                                   "give --remote too")


def settle(before: dict[str, Any], after: dict[str, Any]) -> RunOptions:
    """The run options given before FILE (``before``) and after NAME (``after``), as
    :func:`given` returns them: one given after NAME wins; repeatable ones add up.

    Raises:
        click.UsageError: an option for remote runs without ``--remote``, or a bad
            ``KEY=VALUE`` pair.
    """
    values = {**before, **after}
    for name in _REPEATABLE:
        values[name] = (*before.get(name, ()), *after.get(name, ()))
    _check_remote_only(values)
    try:
        labels = parse_pairs(values.pop("label"), "--label")
        annotations = parse_pairs(values.pop("annotation"), "--annotation")
        launch_fields(labels, annotations, values.get("raw_output_prefix"), "flyray run")
    except SpecError as e:
        raise click.UsageError(str(e)) from None
    envvars = parse_envvars(values.pop("envvars"))
    return RunOptions(**values, labels=labels, annotations=annotations, envvars=envvars)
