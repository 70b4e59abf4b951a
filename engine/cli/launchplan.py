"""``flyray launchplan activate|deactivate NAME [--version V]``: launch plan activation
(at most one version of a name is active; activating one deactivates the others)."""

from __future__ import annotations

import click

from engine.cli.common import admin_options, scope_options, with_cli_errors
from engine.cli.remote import flyte_remote
from engine.dag.spec import Identifier, ResourceType


@click.group(help="Activate or deactivate a launch plan version.")
def launchplan() -> None:
    pass


def _set_state(state: str, name: str, version: str | None, project: str | None,
               domain: str | None, endpoint: str | None, token: str | None) -> None:
    remote = flyte_remote(endpoint, token, project, domain)
    # A name alone is its newest registered version.
    target: Identifier | str = name if version is None else Identifier(
        ResourceType.LAUNCH_PLAN, remote.default_project, remote.default_domain, name, version)
    plan = (remote.activate_launchplan(target) if state == "ACTIVE"
            else remote.deactivate_launchplan(target))
    click.echo(f"launch plan {name} version {plan.version} is {plan.closure.state}")


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
