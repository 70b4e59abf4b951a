"""``flyray register PATH``: fast registration of a package's tasks, workflows and launch
plans, with its source tree bundled into the blob store."""

from __future__ import annotations

import click
from rich.table import Table

from engine.cli.common import admin_options, console, scope_options, with_cli_errors
from engine.cli.remote import flyte_remote
from engine.remote.registration import Outcome, Registration, RegistrationError


def outcome_table(outcomes: list[Outcome], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("kind", "name", "version", "status"):
        table.add_column(column)
    for outcome in outcomes:
        kind = outcome.step.kind.value.replace("_", " ")
        if outcome.step.default_plan:
            kind += " (default)"
        style = "green" if outcome.status == "new" else "dim"
        table.add_row(kind, outcome.step.id.name, outcome.step.id.version,
                      f"[{style}]{outcome.status}")
    return table


def print_registration(result: Registration) -> None:
    out = console()
    size = len(result.bundle.data)
    # soft_wrap: a URI is never broken across lines, whatever the terminal's width.
    out.print(f"code: {result.code_uri} ({len(result.bundle.files)} files, "
              f"{size / 1024:.1f} KiB, from {result.bundle.root})", soft_wrap=True)
    out.print(outcome_table(
        result.outcomes, f"{len(result.outcomes)} entities in {result.project}/"
        f"{result.domain} at version {result.version}"))
    for module in result.outside:
        out.print(f"[yellow]note:[/] module '{module}' is neither in the code bundle nor "
                  "installed here; the cluster must have it installed", soft_wrap=True)


def register_or_fail(path: str, endpoint: str | None, token: str | None,
                     project: str | None, domain: str | None,
                     version: str | None) -> Registration:
    """Fast registration for a command: a refusal prints what was registered, then fails."""
    remote = flyte_remote(endpoint, token, project, domain)
    try:
        return remote.register_package(path, version)
    except RegistrationError as e:
        if e.done:
            console().print(outcome_table(e.done, "registered before the refusal"))
        raise click.ClickException(str(e)) from e


@click.command("register",
               help="Register every task, workflow and launch plan of the package at PATH "
               "(a package directory, a source root, or a .py file: its whole package), "
               "with its source tree bundled into the blob store.")
@click.argument("path", type=click.Path(exists=True))
@scope_options
@click.option("--version", "-v", default=None,
              help="Version of every entity (default: a hash of the code and the specs).")
@admin_options
@with_cli_errors
def register_command(path: str, project: str | None, domain: str | None,
                     version: str | None, endpoint: str | None, token: str | None) -> None:
    print_registration(register_or_fail(path, endpoint, token, project, domain, version))
