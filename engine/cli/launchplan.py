"""``flyray launchplan activate|deactivate NAME [--version V]``: launch plan activation
(at most one version of a name is active; activating one deactivates the others)."""

from __future__ import annotations

import click

from engine.admin_client import AdminClient
from engine.cli.common import admin_options, client, scope, scope_options, with_cli_errors
from engine.errors import FlyrayError


@click.group(help="Activate or deactivate a launch plan version.")
def launchplan() -> None:
    pass


def latest_version(admin: AdminClient, project: str, domain: str, name: str) -> str:
    """The newest registered version of launch plan ``name``."""
    reply = admin.get(f"/api/v1/launch_plans/{project}/{domain}/{name}", limit=1)
    plans = reply["launch_plans"]
    if not plans:
        raise FlyrayError(f"launch plan '{name}' is not registered in {project}/{domain}; "
                          "register it with 'flyray register'")
    return str(plans[0]["id"]["version"])


def _set_state(state: str, name: str, version: str | None, project: str | None,
               domain: str | None, endpoint: str | None, token: str | None) -> None:
    project, domain = scope(project, domain)
    admin = client(endpoint, token)
    version = version or latest_version(admin, project, domain, name)
    reply = admin.put(f"/api/v1/launch_plans/{project}/{domain}/{name}/{version}",
                      {"state": state})
    click.echo(f"launch plan {name} version {reply['id']['version']} is {reply['state']}")


def _command(state: str, verb: str) -> click.Command:
    @click.argument("name")
    @click.option("--version", "-v", default=None,
                  help="The version (default: the newest registered).")
    @scope_options
    @admin_options
    @with_cli_errors
    def command(name: str, version: str | None, project: str | None, domain: str | None,
                endpoint: str | None, token: str | None) -> None:
        _set_state(state, name, version, project, domain, endpoint, token)

    return click.command(verb, help=f"{verb.capitalize()} a launch plan version "
                         "(default: the newest).")(command)


launchplan.add_command(_command("ACTIVE", "activate"))
launchplan.add_command(_command("INACTIVE", "deactivate"))
