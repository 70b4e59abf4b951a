"""``flyray execution terminate|relaunch|recover NAME``: act on a remote execution."""

from __future__ import annotations

from typing import Any

import click

from engine.cli import remote
from engine.cli.common import admin_options, client, scope, scope_options, with_cli_errors


@click.group(help="Terminate, relaunch or recover an execution.")
def execution() -> None:
    pass


def _report(verb: str, reply: dict[str, Any], endpoint: str) -> None:
    ref = remote.ExecutionRef.of(reply)
    click.echo(f"{verb} execution {ref.name} ({reply['closure']['phase']}): "
               f"{remote.console_url(endpoint, ref)}")


@execution.command(help="Stop an execution: it ends ABORTED with the cause.")
@click.argument("name")
@click.option("--cause", default="terminated with 'flyray execution terminate'",
              show_default=True, help="Why; recorded with the execution.")
@scope_options
@admin_options
@with_cli_errors
def terminate(name: str, cause: str, project: str | None, domain: str | None,
              endpoint: str | None, token: str | None) -> None:
    project, domain = scope(project, domain)
    admin = client(endpoint, token)
    reply = admin.delete(f"/api/v1/executions/{project}/{domain}/{name}", {"cause": cause})
    _report("terminated", reply, admin.endpoint)


def _again(path: str, verb: str, name: str, new_name: str | None, project: str | None,
           domain: str | None, endpoint: str | None, token: str | None) -> None:
    project, domain = scope(project, domain)
    admin = client(endpoint, token)
    body: dict[str, Any] = {"id": {"project": project, "domain": domain, "name": name}}
    if new_name:
        body["name"] = new_name
    _report(verb, admin.post(f"/api/v1/executions/{path}", body).body, admin.endpoint)


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
    _again("relaunch", "relaunched as", name, new_name, project, domain, endpoint, token)


@execution.command(help="Run an ended execution again, reusing the outputs of the nodes "
                   "that succeeded.")
@click.argument("name")
@_new_name
@scope_options
@admin_options
@with_cli_errors
def recover(name: str, new_name: str | None, project: str | None, domain: str | None,
            endpoint: str | None, token: str | None) -> None:
    _again("recover", "recovered as", name, new_name, project, domain, endpoint, token)
