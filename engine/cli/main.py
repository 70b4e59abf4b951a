"""The ``flyray`` command."""

from __future__ import annotations

import click

from engine.cli.cache import cache
from engine.cli.cluster import cluster
from engine.cli.run import run


@click.group(help="Flyray: Flyte-style typed workflows on Ray.")
@click.version_option(package_name="flyray")
def cli() -> None:
    pass


cli.add_command(run)
cli.add_command(cluster)
cli.add_command(cache)


def main() -> None:
    cli()
