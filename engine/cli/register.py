"""``flyray register PATH``: fast registration of a package's tasks, workflows and launch
plans, with its source tree bundled into the blob store (``--dry-run``: what the bundle
would hold); ``flyray register files`` (in :mod:`engine.cli.register_files`) registers
what ``flyray package`` wrote."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from engine.cli.common import admin_options, console, scope_options, with_cli_errors
from engine.cli.remote import flyte_remote
from engine.remote.bundle import GIT_IGNORE_FILE, IGNORE_FILE, Bundle
from engine.remote.registration import (
    Outcome,
    Registration,
    RegistrationError,
    content_version,
    package_bundle,
    plan_registration,
)


def outcome_table(outcomes: list[Outcome], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("kind", "name", "version", "status"):
        table.add_column(column)
    for outcome in outcomes:
        style = "green" if outcome.status == "new" else "dim"
        table.add_row(outcome.step.label, outcome.step.id.name, outcome.step.id.version,
                      f"[{style}]{outcome.status}")
    return table


def human_size(size: int) -> str:
    """'812 B', '45.3 KB', '3.8 MB' (decimal units)."""
    if size < 1000:
        return f"{size} B"
    return f"{size / 1e3:.1f} KB" if size < 1_000_000 else f"{size / 1e6:.1f} MB"


def _large_warning(bundle: Bundle, hint: str) -> None:
    click.echo(f"warning: large bundle: {len(bundle.files)} files "
               f"({human_size(bundle.source_bytes)}) from {bundle.root}; {hint}leave files "
               f"out with {bundle.root / GIT_IGNORE_FILE} or {bundle.root / IGNORE_FILE}",
               err=True)


def report_bundle(bundle: Bundle, path: str) -> None:
    """One line on stderr with what the code bundle of ``path`` holds, and a warning when
    it is large (most often a source root wider than the project)."""
    click.echo(f"bundled {len(bundle.files)} files ({human_size(bundle.source_bytes)}) "
               f"from {bundle.root}", err=True)
    if bundle.large:
        _large_warning(bundle, f"list it with 'flyray register {path} --dry-run', ")


def print_registration(result: Registration) -> None:
    out = console()
    if result.bundle is None:
        out.print("code: none (specs only: the cluster must provide their modules)")
    else:
        # soft_wrap: a URI is never broken across lines, whatever the terminal's width.
        out.print(f"code: {result.code_uri} ({len(result.bundle.files)} files, "
                  f"{human_size(len(result.bundle.data))} zipped, from {result.bundle.root})",
                  soft_wrap=True)
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
        result = remote.register_package(path, version, raw_output_prefix=raw_output_prefix)
    except RegistrationError as e:
        if e.done:
            console().print(outcome_table(e.done, "registered before the refusal"))
        raise click.ClickException(str(e)) from e
    if result.bundle is not None:
        report_bundle(result.bundle, path)
    return result


def print_dry_run(path: str, version: str | None) -> None:
    """What registering ``path`` would bundle, file by file, and register; nothing is
    uploaded or registered, and no admin API is needed."""
    found, bundle = package_bundle(path)
    sizes = bundle.file_sizes()
    click.echo(f"dry run, nothing uploaded or registered; the code bundle of {path} "
               "would hold:")
    for rel, size in sizes.items():  # plain lines, for grep
        click.echo(f"{human_size(size):>9}  {rel}")
    steps = plan_registration(found)
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.kind.value] = counts.get(step.kind.value, 0) + 1
    entities = ", ".join(f"{n} {kind.replace('_', ' ')}{'s' if n != 1 else ''}"
                         for kind, n in counts.items())
    click.echo(f"{len(sizes)} files ({human_size(sum(sizes.values()))}) from {bundle.root}")
    click.echo(f"would register {entities or 'nothing'} at version "
               f"{version or content_version(steps, bundle)}")
    if bundle.large:
        _large_warning(bundle, "")


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
@click.option("--dry-run", is_flag=True,
              help="Upload and register nothing: list the files the code bundle would hold "
              "(what .gitignore and .flyrayignore leave out is not there), their total size "
              "and the entities it would register.")
@admin_options
@with_cli_errors
def register_package(path: str, project: str | None, domain: str | None,
                     version: str | None, raw_output_prefix: str | None, dry_run: bool,
                     endpoint: str | None, token: str | None) -> None:
    if dry_run:
        print_dry_run(path, version)
        return
    print_registration(register_or_fail(path, endpoint, token, project, domain, version,
                                        raw_output_prefix))
