"""``flyray launch LAUNCH_PLAN [--version V] [--input NAME=VALUE ...] [--wait]``: run a
registered launch plan through the admin API, as ``pyflyte run --remote`` runs a
registered entity. Inputs are read by the registered interface (the code need not be
here); a launch plan's fixed inputs cannot be given and its defaults fill the others."""

from __future__ import annotations

import click

from engine.cli import inputs
from engine.cli.common import admin_options, scope_options, show_progress, with_cli_errors
from engine.cli.remote import finish, flyte_remote


@click.command("launch", help="Run a registered launch plan (a workflow's default one has "
               "the workflow's name): flyray launch NAME --input n=3. Prints the execution's "
               "console URL; with --wait, follows it and prints its outputs.")
@click.argument("launch_plan")
@click.option("--version", "-v", default=None,
              help="The launch plan's version (default: the newest registered).")
@click.option("--input", "input_pairs", multiple=True, metavar="NAME=VALUE",
              help="An input (repeatable), written as 'flyray run' takes it: numbers and "
              "strings as they are, JSON for lists, dicts, dataclasses and booleans.")
@click.option("--inputs-file", type=click.Path(exists=True, dir_okay=False),
              help="JSON or YAML file of input values; --input given win.")
@click.option("--name", "execution_name", default=None,
              help="The execution's name (default: generated); launching the same name "
              "again returns that execution.")
@click.option("--overwrite-cache", is_flag=True, default=False,
              help="Run cached tasks again and replace their cached results.")
@click.option("--wait", is_flag=True, default=False,
              help="Follow the execution to its end, then print its outputs.")
@click.option("--progress/--no-progress", default=None,
              help="With --wait: live node display (default: on when stderr is a terminal).")
@scope_options
@admin_options
@with_cli_errors
def launch(launch_plan: str, version: str | None, input_pairs: tuple[str, ...],
           inputs_file: str | None, execution_name: str | None, overwrite_cache: bool,
           wait: bool, progress: bool | None, project: str | None, domain: str | None,
           endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    plan = remote.fetch_launch_plan(name=launch_plan, version=version)
    iface = plan.python_interface
    what = f"launch plan {plan.name}"
    fixed = plan.fixed_inputs
    values = inputs.from_file(inputs_file, iface, what, fixed) if inputs_file else {}
    values.update(inputs.from_pairs(input_pairs, iface, what, fixed))
    execution = remote.execute(plan, values, execution_name=execution_name,
                               overwrite_cache=overwrite_cache)
    click.echo(f"execution {execution.id.name}: {remote.generate_console_url(execution)}")
    if wait:
        finish(remote, execution, show_progress(progress), iface)
