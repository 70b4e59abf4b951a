"""``flyray register files FILES...``: register what ``flyray package`` or ``flyray
serialize`` wrote, from a process that needs Flyray only (never the user's code), as CI
does after building the package once."""

from __future__ import annotations

import click
from rich.table import Table

from engine.cli.common import admin_options, console, scope, scope_options, with_cli_errors
from engine.cli.register import outcome_table, print_registration
from engine.cli.remote import flyte_remote
from engine.remote.artifact_files import read_artifact
from engine.remote.file_registration import (
    Comparison,
    compare,
    planned_steps,
    register_artifact,
)
from engine.remote.registration import RegistrationError

_STATUS_STYLE = {"new": "green", "identical": "dim", "differs": "red"}


def comparison_table(comparisons: list[Comparison], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("kind", "name", "version", "registered"):
        table.add_column(column)
    for found in comparisons:
        status = {"new": "no: new", "identical": "yes, identical"}.get(
            found.status, f"yes, differs at {', '.join(found.differences)}")
        table.add_row(found.step.label, found.step.id.name, found.step.id.version,
                      f"[{_STATUS_STYLE[found.status]}]{status}")
    return table


@click.command("files", help="Register the package directories, package archives "
               "(.tar.gz, .tgz, .zip) or spec files (.json) that 'flyray package' or 'flyray "
               "serialize' wrote, uploading the code bundle to the blob store; no user code "
               "is imported. With --dry-run, show what would be registered and how it "
               "compares with what the admin API holds.")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@scope_options
@click.option("--version", "-v", default=None,
              help="Version of every entity (default: the one the package was built at).")
@click.option("--output-location-prefix", "raw_output_prefix", default=None, metavar="URI",
              help="Raw-output prefix of every launch plan that sets none of its own (a URI "
                   "inside the admin's blob store).")
@click.option("--dry-run", is_flag=True,
              help="Register nothing: show each entity and whether it is registered at that "
                   "version, identical or differing; exit status 1 if any differs.")
@admin_options
@with_cli_errors
def register_files(files: tuple[str, ...], project: str | None, domain: str | None,
                   version: str | None, raw_output_prefix: str | None, dry_run: bool,
                   endpoint: str | None, token: str | None) -> None:
    project, domain = scope(project, domain)
    artifact = read_artifact(list(files))
    remote = flyte_remote(endpoint, token, project, domain)
    if dry_run:
        steps, version = planned_steps(artifact, project, domain, version, raw_output_prefix)
        bundle = artifact.bundle
        code_uri = remote.store.uri(bundle.key) if bundle is not None else None
        out = console()
        out.print(f"dry run, nothing registered; code: {code_uri or 'none (specs only)'}",
                  soft_wrap=True)
        comparisons = compare(remote.client, steps, code_uri)
        out.print(comparison_table(comparisons, f"{len(steps)} entities in {project}/"
                                                f"{domain} at version {version}"))
        differing = sum(1 for c in comparisons if c.status == "differs")
        if differing:
            raise click.ClickException(
                f"{differing} of them differ from what is registered under the same "
                "version: the admin API would refuse them (409); give another --version")
        return
    try:
        result = register_artifact(artifact, remote.client, remote.store, project, domain,
                                   version, raw_output_prefix)
    except RegistrationError as e:
        if e.done:
            console().print(outcome_table(e.done, "registered before the refusal"))
        raise click.ClickException(str(e)) from e
    print_registration(result)
