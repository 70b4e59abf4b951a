"""``flyray cache list|evict|clear``: see and manage cached task results."""

from __future__ import annotations

import datetime as dt

import click
from rich.console import Console
from rich.table import Table

from engine.catalog import cache as catalog_cache
from engine.catalog.store import cache_version_of
from engine.cli.params import DurationParam
from engine.errors import FlyrayError


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@click.group(help="See and manage cached task results (the data catalog).")
def cache() -> None:
    pass


@cache.command("list", help="List cached results, newest first.")
@click.option("--task", "task_name", help="Only this task (full name).")
@click.option("--version", help="Only this cache_version.")
@click.option("--older-than", type=DurationParam(), help="Only entries older than this (7d, 12h).")
def list_command(task_name: str | None, version: str | None,
                 older_than: dt.timedelta | None) -> None:
    try:
        entries = catalog_cache.list_entries(task_name, version, older_than)
    except FlyrayError as e:
        raise click.ClickException(str(e)) from e
    table = Table(title=f"{len(entries)} cached result(s)", title_justify="left")
    for column in ("id", "task", "cache_version", "created (UTC)", "size", "execution/node"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry.artifact_id, entry.task, cache_version_of(entry.version),
                      entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      _size(entry.size_bytes), f"{entry.execution}/{entry.node_id}")
    Console(width=200).print(table)


@cache.command(help="Evict entries by id, or every entry of a task (and version).")
@click.argument("ids", nargs=-1)
@click.option("--task", "task_name", help="Evict every entry of this task.")
@click.option("--version", help="With --task: only this cache_version.")
def evict(ids: tuple[str, ...], task_name: str | None, version: str | None) -> None:
    if bool(ids) == bool(task_name):
        raise click.UsageError("give entry ids, or --task (with an optional --version)")
    try:
        if task_name:
            removed = catalog_cache.evict_task(task_name, version)
        else:
            removed = catalog_cache.evict(list(ids))
    except FlyrayError as e:
        raise click.ClickException(str(e)) from e
    if ids and removed < len(ids):
        click.echo(f"evicted {removed} of {len(ids)}; the others were not in the catalog",
                   err=True)
    else:
        click.echo(f"evicted {removed} cached result(s)")


@cache.command(help="Evict every cached result.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear(yes: bool) -> None:
    if not yes:
        click.confirm("Evict every cached result?", abort=True)
    try:
        removed = catalog_cache.clear()
    except FlyrayError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"evicted {removed} cached result(s)")
