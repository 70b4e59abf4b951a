"""``flyray run FILE ENTITY [--input value ...]``: run a task or workflow on Ray; with
``--remote``, register FILE's package and run it through the admin API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from click.core import ParameterSource
from rich.console import Console

from engine.cli.loading import entities, load_module
from engine.cli.params import build_options, convert_enum
from engine.cli.progress import LiveProgress
from engine.cli.remote_run import OPTIONS_KEY, RemoteOptions, run_remote
from engine.core.task import PythonFunctionTask
from engine.core.workflow import PythonFunctionWorkflow
from engine.dag.run.executor import run as run_compiled
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.spec.labels import launch_fields, parse_pairs
from engine.errors import FlyrayError, SpecError
from engine.types.type_engine import TypeEngine


def _read_inputs_file(path: str) -> dict[str, Any]:
    text = Path(path).read_text()
    try:
        data = yaml.safe_load(text) if path.endswith((".yaml", ".yml")) else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise click.BadParameter(f"cannot parse {path}: {e}", param_hint="--inputs-file") from e
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} must hold an object of input names to values",
                                 param_hint="--inputs-file")
    return data


class EntityCommand(click.Command):
    """One task or workflow of the file, with an option per input."""

    def __init__(self, name: str, entity: PythonFunctionTask | PythonFunctionWorkflow,
                 file: str = "") -> None:
        self.entity = entity
        self.file = file
        kind = "workflow" if isinstance(entity, PythonFunctionWorkflow) else "task"
        doc = (entity.fn.__doc__ or "").strip().splitlines()
        params: list[click.Parameter] = [
            *build_options(entity.python_interface),
            click.Option(["--inputs-file"], type=click.Path(exists=True, dir_okay=False),
                         help="JSON or YAML file of input values; options given win."),
            click.Option(["--overwrite-cache"], is_flag=True, default=False,
                         help="Run cached tasks again and replace their cached results."),
            click.Option(["--progress/--no-progress"], default=None,
                         help="Live node display (default: on when stderr is a terminal)."),
        ]
        super().__init__(name, params=params, callback=self._run,
                         help=f"Run {kind} {entity.name}. {doc[0] if doc else ''}")

    def _collect_inputs(self, ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
        iface = self.entity.python_interface
        from_file = _read_inputs_file(values["inputs_file"]) if values["inputs_file"] else {}
        unknown = set(from_file) - set(iface.inputs)
        if unknown:
            raise click.BadParameter(f"unknown input(s) {sorted(unknown)}; "
                                     f"{self.name} takes {', '.join(iface.inputs)}",
                                     param_hint="--inputs-file")
        inputs: dict[str, Any] = {}
        for name, python_type in iface.inputs.items():
            source = ctx.get_parameter_source(name)
            if source is not None and source is not ParameterSource.DEFAULT:
                inputs[name] = convert_enum(values[name], python_type)
            elif name in from_file:
                try:
                    inputs[name] = TypeEngine.from_json(from_file[name], python_type)
                except (TypeError, ValueError) as e:
                    raise click.BadParameter(f"input '{name}' in the inputs file: {e}",
                                             param_hint="--inputs-file") from e
            elif name not in iface.defaults:
                raise click.MissingParameter(ctx=ctx, param_hint=f"'--{name}'",
                                             param_type="option")
        return inputs

    def _run(self, **values: Any) -> None:
        ctx = click.get_current_context()
        inputs = self._collect_inputs(ctx, values)
        entity = self.entity
        remote: RemoteOptions | None = ctx.meta.get(OPTIONS_KEY)
        if remote is not None and remote.remote:
            show = values["progress"]
            try:
                run_remote(self.file, entity, inputs, remote, values["overwrite_cache"],
                           sys.stderr.isatty() if show is None else show)
            except FlyrayError as e:
                raise click.ClickException(str(e)) from e
            return
        try:
            if isinstance(entity, PythonFunctionWorkflow):
                compiled = entity.compile()
                bound = entity.bind_inputs((), inputs)
            else:
                compiled = entity.compile_as_workflow()
                bound = entity.bind_inputs((), inputs)
        except FlyrayError as e:
            raise click.ClickException(str(e)) from e
        hooks: list[ExecutionHooks] = []
        show = values["progress"]
        if show is None:
            show = sys.stderr.isatty()
        if show:
            hooks.append(LiveProgress(Console(stderr=True)))
        try:
            result = run_compiled(compiled, bound, hooks,
                                  overwrite_cache=values["overwrite_cache"])
        except FlyrayError as e:
            raise click.ClickException(str(e)) from e
        click.echo(str(result.outputs))
        for node in result.record.nodes.values():
            if node.cache_status not in (None, "DISABLED"):
                click.echo(f"cache {node.cache_status}: {node.node_id} {node.task}", err=True)


class FileGroup(click.Group):
    """The tasks and workflows of one file, each a subcommand."""

    def __init__(self, file: str) -> None:
        super().__init__(name=file, help=f"Tasks and workflows in {file}; run one with "
                         f"'flyray run {file} NAME --help' to see its inputs.")
        self.file = file
        self._entities: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._entities is None:
            try:
                self._entities = entities(load_module(self.file))
            except FlyrayError as e:
                raise click.ClickException(str(e)) from e
        return self._entities

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._load())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entity = self._load().get(cmd_name)
        return EntityCommand(cmd_name, entity, self.file) if entity is not None else None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name not in self._load():
            known = ", ".join(self._load()) or "none"
            raise click.UsageError(f"{self.file} has no task or workflow '{name}'; "
                                   f"it has: {known}")
        return super().resolve_command(ctx, args)


class RunGroup(click.Group):
    """``flyray run FILE ...``: the first argument is a file, not a subcommand name."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return FileGroup(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []


def _keep_options(**options: Any) -> None:
    if options["wait"] and not options["remote"]:
        raise click.UsageError("--wait follows a remote execution: give --remote too")
    if options["timeout"] is not None and not options["remote"]:
        raise click.UsageError("--timeout limits a remote execution: give --remote too")
    for flag in ("label", "annotation", "raw_output_prefix"):
        if options[flag] and not options["remote"]:
            raise click.UsageError(f"--{flag.replace('_', '-')} is for a remote execution: "
                                   "give --remote too")
    try:
        labels = parse_pairs(options.pop("label"), "--label")
        annotations = parse_pairs(options.pop("annotation"), "--annotation")
        launch_fields(labels, annotations, options["raw_output_prefix"], "flyray run")
    except SpecError as e:
        raise click.UsageError(str(e)) from None
    click.get_current_context().meta[OPTIONS_KEY] = RemoteOptions(
        **options, labels=labels, annotations=annotations)


run = RunGroup(
    name="run",
    help="Run a task or workflow of a Python file on Ray: flyray run FILE NAME [--input value]. "
    "'flyray run FILE --help' lists what the file defines. With --remote, FILE's package is "
    "registered and NAME runs on the admin API's cluster.",
    subcommand_metavar="FILE NAME [INPUTS]...",
    callback=_keep_options,
    params=[
        click.Option(["--remote"], is_flag=True, default=False,
                     help="Register FILE's package and launch NAME through the admin API."),
        click.Option(["--wait"], is_flag=True, default=False,
                     help="With --remote: follow the execution to its end, print outputs."),
        click.Option(["--project", "-p"], default=None,
                     help="With --remote: project (default: FLYRAY_PROJECT)."),
        click.Option(["--domain", "-d"], default=None,
                     help="With --remote: domain (default: FLYRAY_DOMAIN)."),
        click.Option(["--version", "-v"], default=None,
                     help="With --remote: version to register under (default: a hash of "
                     "the code and the specs)."),
        click.Option(["--name"], default=None,
                     help="With --remote: the execution's name (default: generated)."),
        click.Option(["--timeout"], default=None, metavar="SECONDS",
                     type=click.FloatRange(min=0, min_open=True),
                     help="With --remote: stop the execution once it has run this long "
                     "(it ends TIMED_OUT; default: no limit)."),
        click.Option(["--label"], multiple=True, metavar="KEY=VALUE",
                     help="With --remote: a label of the execution (repeatable), added to "
                     "the launch plan's; list by it with flyray get executions --label."),
        click.Option(["--annotation"], multiple=True, metavar="KEY=VALUE",
                     help="With --remote: an annotation of the execution (repeatable)."),
        click.Option(["--raw-output-prefix"], default=None, metavar="URI",
                     help="With --remote: where the execution writes its raw outputs "
                     "(files, dataframes, offloaded values), inside the blob store."),
        click.Option(["--endpoint"], default=None, metavar="URL",
                     help="With --remote: admin API URL (default: FLYRAY_ADMIN_ENDPOINT)."),
        click.Option(["--token"], default=None,
                     help="With --remote: admin API token (default: FLYRAY_ADMIN_TOKEN)."),
    ],
)
