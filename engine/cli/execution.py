"""``flyray execution terminate|relaunch|recover NAME``: act on a remote execution."""

from __future__ import annotations

from typing import Any

import click

from engine.cli.common import admin_options, scope_options, with_cli_errors
from engine.cli.remote import flyte_remote
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


def _new_name(fn: Any) -> Any:
    return click.option("--name", "new_name", default=None,
                        help="The new execution's name (default: generated).")(fn)


@execution.command(help="Run an execution again: the same versions and inputs.")
@click.argument("name")
@_new_name
@scope_options
@admin_options
@with_cli_errors
def relaunch(name: str, new_name: str | None, project: str | None, domain: str | None,
             endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    _report("relaunched as", remote.relaunch(name, new_name), remote)


@execution.command(help="Run an ended execution again, reusing the outputs of the nodes "
                   "that succeeded.")
@click.argument("name")
@_new_name
@scope_options
@admin_options
@with_cli_errors
def recover(name: str, new_name: str | None, project: str | None, domain: str | None,
            endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    _report("recovered as", remote.recover(name, new_name), remote)
