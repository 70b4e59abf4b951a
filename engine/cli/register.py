"""``flyray register PATH``: fast registration of a package's tasks, workflows and launch
plans, with its source tree bundled into the blob store; ``flyray register files`` (in
:mod:`engine.cli.register_files`) registers what ``flyray package`` wrote."""

from __future__ import annotations

from typing import Any

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
        style = "green" if outcome.status == "new" else "dim"
        table.add_row(outcome.step.label, outcome.step.id.name, outcome.step.id.version,
                      f"[{style}]{outcome.status}")
    return table


def print_registration(result: Registration) -> None:
    out = console()
    if result.bundle is None:
        out.print("code: none (specs only: the cluster must provide their modules)")
    else:
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
                     version: str | None, raw_output_prefix: str | None = None
                     ) -> Registration:
    """Fast registration for a command: a refusal prints what was registered, then fails."""
    remote = flyte_remote(endpoint, token, project, domain)
    try:
        return remote.register_package(path, version, raw_output_prefix=raw_output_prefix)
    except RegistrationError as e:
        if e.done:
            console().print(outcome_table(e.done, "registered before the refusal"))
        raise click.ClickException(str(e)) from e


class RegisterGroup(click.Group):
    """``flyray register PATH`` and ``flyray register files FILES...``: a first argument
    that names no sub-command is the PATH of the first form (a directory named like a
    sub-command is written ``./files``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] != "--help":
            args = [PACKAGE_FORM, *args]
        return super().parse_args(ctx, args)


PACKAGE_FORM = "path"  # the hidden sub-command of ``flyray register PATH``


class _PackageForm(click.Command):
    """The hidden sub-command, whose usage reads as the command users type."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        parent = ctx.parent.command_path if ctx.parent else "flyray register"
        formatter.write_usage(parent, "PATH [OPTIONS]")


@click.group("register", cls=RegisterGroup, options_metavar="",
             subcommand_metavar="PATH [OPTIONS] | files FILES... [OPTIONS]",
             help="Register tasks, workflows and launch plans with the admin API.\n\n"
             "'flyray register PATH' imports the package at PATH and registers everything it "
             "defines, with its source tree bundled into the blob store (see 'flyray register "
             "PATH --help'); 'flyray register files' registers what 'flyray package' or "
             "'flyray serialize' wrote, without importing any code.")
def register_command(**_: Any) -> None:
    pass


@register_command.command(PACKAGE_FORM, cls=_PackageForm, hidden=True,
               help="Register every task, workflow and launch plan of the package at PATH "
               "(a package directory, a source root, or a .py file: its whole package), "
               "with its source tree bundled into the blob store.")
@click.argument("path", type=click.Path(exists=True))
@scope_options
@click.option("--version", "-v", default=None,
              help="Version of every entity (default: a hash of the code and the specs).")
@click.option("--output-location-prefix", "raw_output_prefix", default=None, metavar="URI",
              help="Raw-output prefix of every launch plan that sets none of its own (a URI "
              "inside the admin's blob store).")
@admin_options
@with_cli_errors
def register_package(path: str, project: str | None, domain: str | None,
                     version: str | None, raw_output_prefix: str | None,
                     endpoint: str | None, token: str | None) -> None:
    print_registration(register_or_fail(path, endpoint, token, project, domain, version,
                                        raw_output_prefix))
