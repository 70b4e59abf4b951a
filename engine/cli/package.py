"""``flyray package`` and ``flyray serialize``: a package's specs (and code bundle) as
files, for ``flyray register files`` to register later, from CI, without the code."""

from __future__ import annotations

import click
from rich.table import Table

from engine.cli.common import console, with_cli_errors
from engine.remote.artifacts import Artifact, build_artifact, spec_file_name, write_artifact


def artifact_table(artifact: Artifact, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("file", "kind", "name"):
        table.add_column(column)
    for index, step in enumerate(artifact.steps, 1):
        table.add_row(spec_file_name(index, step, len(artifact.steps)), step.label,
                      step.id.name)
    return table


def _write(path: str, version: str | None, output: str, with_bundle: bool) -> None:
    artifact = build_artifact(path, version, with_bundle)
    written = write_artifact(artifact, output)
    out = console()
    out.print(artifact_table(artifact, f"{len(artifact.steps)} entities at version "
                                       f"{artifact.version}, written to {written}"))
    if artifact.bundle is not None:
        out.print(f"code bundle: {len(artifact.bundle.files)} files, "
                  f"{len(artifact.bundle.data) / 1024:.1f} KiB, from {artifact.bundle.root}",
                  soft_wrap=True)
    for module in artifact.outside:
        out.print(f"[yellow]note:[/] module '{module}' is neither in the code bundle nor "
                  "installed here; the cluster must have it installed", soft_wrap=True)


_PATH_HELP = "(a package directory, a source root, or a .py file: its whole package)"
_VERSION = click.option("--version", "-v", default=None,
                        help="Version of every entity (default: a hash of the code and the "
                             "specs, as 'flyray register' computes it).")


@click.command("package", help="Import the package at PATH " + _PATH_HELP + " and write "
               "what registering it needs: a spec file per task, workflow and launch plan, "
               "the code bundle and a manifest, into a directory or one archive (the same "
               "bytes for the same code). 'flyray register files' registers it.")
@click.argument("path", type=click.Path(exists=True))
@_VERSION
@click.option("--output", "-o", default="flyray-package", show_default=True,
              metavar="DIR|FILE", help="A directory, or an archive: FILE.tar.gz, FILE.tgz "
                                       "or FILE.zip.")
@with_cli_errors
def package(path: str, version: str | None, output: str) -> None:
    _write(path, version, output, with_bundle=True)


@click.command("serialize", help="As 'flyray package', without the code bundle: the specs "
               "and a manifest only, for code the cluster provides otherwise (an image).")
@click.argument("path", type=click.Path(exists=True))
@_VERSION
@click.option("--output", "-o", default="flyray-specs", show_default=True,
              metavar="DIR|FILE", help="A directory, or an archive: FILE.tar.gz, FILE.tgz "
                                       "or FILE.zip.")
@with_cli_errors
def serialize(path: str, version: str | None, output: str) -> None:
    _write(path, version, output, with_bundle=False)
