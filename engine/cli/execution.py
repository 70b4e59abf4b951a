"""``flyray execution terminate|relaunch|recover NAME``: act on a remote execution;
``--wait`` follows a relaunched or recovered one to its end."""

from __future__ import annotations

from collections.abc import Callable

import click

from engine.cli.common import admin_options, scope_options, show_progress, with_cli_errors
from engine.cli.remote import finish, flyte_remote
from engine.remote import FlyteRemote, FlyteWorkflowExecution


@click.group(help="Terminate, relaunch or recover an execution.")
def execution() -> None:
    pass


def _report(verb: str, execution: FlyteWorkflowExecution, remote: FlyteRemote) -> None:
    click.echo(f"{verb} execution {execution.id.name} ({execution.closure.phase.value}): "
               f"{remote.generate_console_url(execution)}")


@execution.command(help="Stop an execution: it ends ABORTED with the cause.")
@click.argument("name")
@click.option("--cause", default="terminated with 'flyray execution terminate'",
              show_default=True, help="Why; recorded with the execution.")
@scope_options
@admin_options
@with_cli_errors
def terminate(name: str, cause: str, project: str | None, domain: str | None,
              endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    _report("terminated", remote.terminate(name, cause), remote)


def _again(verb: str, help_text: str,
           start: Callable[[FlyteRemote, str, str | None], FlyteWorkflowExecution]
           ) -> click.Command:
    """``flyray execution VERB NAME [--name NEW] [--wait]``: start a new execution from
    NAME; with ``--wait``, follow it and print its outputs (exit 1 if it fails)."""

    @click.argument("name")
    @click.option("--name", "new_name", default=None,
                  help="The new execution's name (default: generated).")
    @click.option("--wait", is_flag=True, default=False,
                  help="Follow the new execution to its end, then print its outputs.")
    @click.option("--progress/--no-progress", default=None,
                  help="With --wait: live node display (default: on when stderr is a "
                  "terminal).")
    @scope_options
    @admin_options
    @with_cli_errors
    def command(name: str, new_name: str | None, wait: bool, progress: bool | None,
                project: str | None, domain: str | None, endpoint: str | None,
                token: str | None) -> None:
        remote = flyte_remote(endpoint, token, project, domain)
        started = start(remote, name, new_name)
        _report(f"{verb}ed as", started, remote)
        if wait:
            finish(remote, started, show_progress(progress))

    return click.command(verb, help=help_text)(command)


execution.add_command(_again("relaunch", "Run an execution again: the same versions and "
                             "inputs.", FlyteRemote.relaunch))
execution.add_command(_again("recover", "Run an ended execution again, reusing the outputs "
                             "of the nodes that succeeded.", FlyteRemote.recover))
