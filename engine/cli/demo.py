"""``flyray demo start|stop|status``: a local control plane in one command, like Flyte's
sandbox: a Ray head, the admin API on Ray Serve, SQLite and the blob store under the
Flyray home (or what the configuration names)."""

from __future__ import annotations

import sys
import time

import click
from rich.table import Table

from engine.cli import sandbox
from engine.cli.common import console, settings, with_cli_errors
from engine.config import Settings


@click.group(help="Start, stop or inspect a local Flyray control plane (Ray head + admin "
             "API on Serve + SQLite + blob store).")
def demo() -> None:
    pass


def _table(current: Settings) -> tuple[Table, bool]:
    checks = sandbox.checks(current)
    table = Table(title="Flyray demo", title_justify="left")
    for column in ("component", "state", "location"):
        table.add_column(column)
    for check in checks:
        style = "green" if check.ok else ("dim" if check.state == "stopped" else "red")
        table.add_row(check.component, f"[{style}]{check.state}", check.location)
    return table, all(check.ok for check in checks)


def _print_status(current: Settings) -> bool:
    table, ready = _table(current)
    out = console()
    out.print(table)
    if ready:
        for label, url in sandbox.urls(current).items():
            out.print(f"  {label:<9} {url}")
    return ready


@demo.command(help="Start the demo (nothing to do when it runs already).")
@click.option("--dashboard", is_flag=True,
              help="Also serve Ray's dashboard (its URL is in the table); the start takes "
                   "about 2 s more.")
@with_cli_errors
def start(dashboard: bool) -> None:
    current = settings()
    began = time.monotonic()
    state, started = sandbox.start(current, dashboard)
    if started:
        click.echo(f"Flyray demo started in {time.monotonic() - began:.1f} s "
                   f"(Ray head pid {state.pid}, log {state.log}).")
    else:
        click.echo(f"Flyray demo is already running (Ray head pid {state.pid}, since "
                   f"{state.started_at}).")
        if dashboard and not state.dashboard_url:
            click.echo("It runs without Ray's dashboard: stop it (flyray demo stop), then "
                       "start it with --dashboard.")
    if not _print_status(current):
        raise click.ClickException("the demo started, but not every part is ready; see "
                                   f"{state.log}")
    click.echo(f"\nRegister and run a workflow: flyray run --remote FILE NAME [--input ...]"
               f"\nStop it (data stays under {current.home}): flyray demo stop")


@demo.command(help="Stop Serve and the Ray head; the admin database and blobs are kept.")
@with_cli_errors
def stop() -> None:
    current = settings()
    state, released = sandbox.stop(current)
    if state is None:
        click.echo("Flyray demo is not running.")
        return
    resumed = (f" {released} running execution(s) resume after `flyray demo start`."
               if released else "")
    click.echo(f"Flyray demo stopped (Ray head pid {state.pid}); data kept under "
               f"{current.home}.{resumed}")


@demo.command(help="Show whether each part of the demo is running and ready; exit status "
              "1 unless all are.")
@with_cli_errors
def status() -> None:
    if not _print_status(settings()):
        sys.exit(1)
