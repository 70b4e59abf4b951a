"""Projects: ``flyray get projects`` lists them, ``flyray create project ID`` creates one
(with the domains development, staging and production), as flytectl does."""

from __future__ import annotations

import click

from engine.cli.common import (
    admin_options,
    console,
    echo_data,
    output_option,
    plain,
    short_time,
    table,
    with_cli_errors,
)
from engine.cli.remote import flyte_remote


@click.command("projects", help="List the projects (by id) and their domains.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="At most this many projects.")
@output_option
@admin_options
@with_cli_errors
def projects(limit: int, output: str, endpoint: str | None, token: str | None) -> None:
    found = flyte_remote(endpoint, token).list_projects(limit=limit)
    if output != "table":
        echo_data({"projects": [p.to_json() for p in found]}, output)
        return
    shown = table(f"{len(found)} projects", ("id", "name", "domains", "description",
                                             "created (UTC)"))
    for project in found:
        shown.add_row(project.id, plain(project.name), ", ".join(project.domains),
                      plain(project.description), short_time(project.reply.get("created_at")))
    console().print(shown)


@click.group(help="Create a project on the admin API.")
def create() -> None:
    pass


@create.command("project", help="Create project ID, with the domains development, staging "
                "and production. Creating the same project again changes nothing.")
@click.argument("project_id", metavar="ID")
@click.option("--name", default=None, help="Display name (default: the id).")
@click.option("--description", default="", help="What the project is for.")
@output_option
@admin_options
@with_cli_errors
def project(project_id: str, name: str | None, description: str, output: str,
            endpoint: str | None, token: str | None) -> None:
    created = flyte_remote(endpoint, token).create_project(project_id, name, description)
    if output != "table":
        echo_data(created.to_json(), output)
        return
    click.echo(f"project {created.id} ({created.name}) with domains "
               f"{', '.join(created.domains)}")
