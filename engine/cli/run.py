"""``flyray run FILE ENTITY [--input value ...]``: run a task or workflow on Ray; with
``--remote``, register FILE's package and run it through the admin API.

Only what ``--help`` needs is imported with this module: the executor (Ray), the live
display (rich) and the admin client are imported when a run starts."""

from __future__ import annotations

import contextlib
from typing import Any

import click
from click.core import ParameterSource

from engine.cli import inputs
from engine.cli.common import console, show_progress
from engine.cli.envvars import task_environment
from engine.cli.loading import entities, import_file, ship_by_value
from engine.cli.params import build_options, convert_enum
from engine.cli.run_options import GIVEN_KEY, RunOptions, free_of, given, run_options, settle
from engine.config import load_settings
from engine.core.image_spec import use_images
from engine.core.task import PythonFunctionTask
from engine.core.workflow import PythonFunctionWorkflow
from engine.errors import FlyrayError


class EntityCommand(click.Command):
    """One task or workflow of the file: an option per input, then the run options (those
    an input's name hides are given before FILE)."""

    def __init__(self, name: str, entity: PythonFunctionTask | PythonFunctionWorkflow,
                 file: str = "") -> None:
        self.entity = entity
        self.file = file
        kind = "workflow" if isinstance(entity, PythonFunctionWorkflow) else "task"
        doc = (entity.fn.__doc__ or "").strip().splitlines()
        params: list[click.Parameter] = [*build_options(entity.python_interface)]
        params += free_of(params)
        super().__init__(name, params=params, callback=self._run,
                         help=f"Run {kind} {entity.name}. {doc[0] if doc else ''}")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The inputs apart from the run options."""
        names = self.entity.python_interface.inputs
        records = [(p.name in names, p.get_help_record(ctx)) for p in self.get_params(ctx)]
        for title, of_input in (("Inputs", True), ("Options", False)):
            rows = [r for is_input, r in records if is_input is of_input and r is not None]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def _collect_inputs(self, ctx: click.Context, values: dict[str, Any],
                        inputs_file: str | None, exec_inputs: dict[str, Any]
                        ) -> dict[str, Any]:
        iface = self.entity.python_interface
        from_file = inputs.from_json(exec_inputs, iface, str(self.name), "--exec-file")
        if inputs_file:
            from_file.update(inputs.from_file(inputs_file, iface, str(self.name)))
        collected: dict[str, Any] = {}
        for name, python_type in iface.inputs.items():
            source = ctx.get_parameter_source(name)
            if source is not None and source is not ParameterSource.DEFAULT:
                collected[name] = convert_enum(values[name], python_type)
            elif name in from_file:
                collected[name] = from_file[name]
            elif name not in iface.defaults:
                raise click.MissingParameter(ctx=ctx, param_hint=f"'--{name}'",
                                             param_type="option")
        return collected

    def _run(self, **values: Any) -> None:
        ctx = click.get_current_context()
        options = settle(ctx.meta.get(GIVEN_KEY, {}), given(ctx, values))
        collected = self._collect_inputs(ctx, values, options.inputs_file,
                                         options.exec_inputs)
        try:
            if options.remote:
                # Registration and the admin client: loaded for a remote run only.
                from engine.cli.remote_run import run_remote

                run_remote(self.file, self.entity, collected, options)
            else:
                _run_local(self.entity, collected, options)
        except FlyrayError as e:
            raise click.ClickException(str(e)) from e


def _run_local(entity: PythonFunctionTask | PythonFunctionWorkflow, values: dict[str, Any],
               options: RunOptions) -> None:
    """Run ``entity`` on Ray here; print its outputs, and its cache hits to stderr."""
    # The executor (Ray) and the live display (rich): loaded when a run starts, not for
    # --help.
    from engine.cli.progress import LiveProgress
    from engine.dag.run.executor import run as run_compiled

    ship_by_value(entity.fn.__module__)
    with use_images(options.images):  # the tasks' specs take the run's images
        if isinstance(entity, PythonFunctionWorkflow):
            compiled = entity.compile()
        else:
            compiled = entity.compile_as_workflow()
    bound = entity.bind_inputs((), values)
    # Used as a context, the live table says what the run waits for while Ray starts,
    # and closes if starting it fails.
    progress = LiveProgress(console(stderr=True)) if show_progress(options.progress) else None
    settings = load_settings()
    try:
        with use_images(options.images), \
                task_environment(options.envvars, settings.ray_address), \
                (progress or contextlib.nullcontext()):
            result = run_compiled(compiled, bound, [progress] if progress else [],
                                  overwrite_cache=options.overwrite_cache)
    finally:
        if settings.ray_address == "auto":
            # The next run of this home starts at once, in a driver prepared meanwhile.
            from engine.cli.spare import provide

            provide(settings)
    click.echo(str(result.outputs))
    for node in result.record.nodes.values():
        if node.cache_status not in (None, "DISABLED"):
            click.echo(f"cache {node.cache_status}: {node.node_id} {node.task}", err=True)
        if node.deck_uri:
            click.echo(f"deck: {node.node_id} {node.task}: {node.deck_uri}", err=True)
    if any(a.log_uri for node in result.record.nodes.values() for a in node.attempts):
        # What the tasks printed is kept; this is the name to read it back by.
        click.echo(f"logs: flyray logs {result.record.name}", err=True)


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
                self._entities = entities(import_file(self.file))
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


def _keep_given(**values: Any) -> None:
    ctx = click.get_current_context()
    ctx.meta[GIVEN_KEY] = given(ctx, values)


run = RunGroup(
    name="run",
    help="Run a task or workflow of a Python file on Ray: flyray run FILE NAME [--input value]. "
    "'flyray run FILE --help' lists what the file defines, 'flyray run FILE NAME --help' its "
    "inputs. With --remote, FILE's package is registered and NAME runs on the admin API's "
    "cluster. The options below go before FILE or after NAME alike.",
    subcommand_metavar="FILE NAME [INPUTS]...",
    callback=_keep_given,
    params=run_options(),
)
