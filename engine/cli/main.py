"""The ``flyray`` command."""

from __future__ import annotations

import click

from engine.cli.cache import cache
from engine.cli.cluster import cluster
from engine.cli.demo import demo
from engine.cli.execution import execution
from engine.cli.get import get
from engine.cli.launchplan import launchplan
from engine.cli.package import package, serialize
from engine.cli.register import register_command
from engine.cli.register_files import register_files
from engine.cli.run import run


@click.group(help="Flyray: Flyte-style typed workflows on Ray.")
@click.version_option(package_name="flyray")
def cli() -> None:
    pass


cli.add_command(run)
cli.add_command(cluster)
cli.add_command(cache)
register_command.add_command(register_files)
cli.add_command(register_command)
cli.add_command(package)
cli.add_command(serialize)
cli.add_command(demo)
cli.add_command(get)
cli.add_command(launchplan)
cli.add_command(execution)


def main() -> None:
    cli()
