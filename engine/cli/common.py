"""What the CLI's commands share: the options and error handling of those that talk to
the admin API, and their output (tables, ``-o json|yaml``). rich is imported only when a
command prints, not by ``--help``."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click
import yaml

from engine.admin_client import AdminClient
from engine.config import Settings, load_settings
from engine.errors import FlyrayError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])

# What ``-o/--output`` of the commands that show the admin API's data takes.
OUTPUT_FORMATS = ("table", "json", "yaml")


def admin_options(fn: F) -> F:
    """``--endpoint`` and ``--token``: where the admin API is, and its bearer token."""
    fn = click.option("--token", default=None, metavar="TOKEN",
                      help="Bearer token of the admin API (default: FLYRAY_ADMIN_TOKEN).")(fn)
    return click.option("--endpoint", default=None, metavar="URL",
                        help="Admin API URL (default: FLYRAY_ADMIN_ENDPOINT, or "
                             "http://127.0.0.1:30080).")(fn)


def scope_options(fn: F) -> F:
    """``--project`` and ``--domain``, defaulting to the configured ones."""
    fn = click.option("--domain", "-d", default=None,
                      help="Domain (default: FLYRAY_DOMAIN, or development).")(fn)
    return click.option("--project", "-p", default=None,
                        help="Project (default: FLYRAY_PROJECT, or flytesnacks).")(fn)


def settings() -> Settings:
    with cli_errors():
        return load_settings()


def client(endpoint: str | None, token: str | None) -> AdminClient:
    return AdminClient.from_settings(settings(), endpoint, token)


def scope(project: str | None, domain: str | None) -> tuple[str, str]:
    current = settings()
    return project or current.project, domain or current.domain


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Flyray's errors (the admin API's included) as a one-line CLI error, exit 1."""
    try:
        yield
    except FlyrayError as e:
        raise click.ClickException(str(e)) from e


def with_cli_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cli_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def output_option(fn: F) -> F:
    """``-o/--output table|json|yaml``: a table, or the admin API's JSON as JSON or YAML."""
    return click.option("--output", "-o", type=click.Choice(OUTPUT_FORMATS), default="table",
                        show_default=True, help="Output format: a table, or the admin API's "
                        "data as JSON or YAML.")(fn)


def show_progress(progress: bool | None) -> bool:
    """``--progress/--no-progress``: on by default when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress


def console(stderr: bool = False) -> Console:
    """Where tables go: stdout (or stderr, for live displays), wide enough that ids are
    not cut."""
    from rich.console import Console  # rich is imported by commands that print, not by --help

    return Console(stderr=True) if stderr else Console(width=200, highlight=False)


def table(title: str, columns: Iterable[str]) -> Table:
    """An empty table with a left-aligned title and these columns."""
    from rich.table import Table  # rich is imported by commands that print, not by --help

    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column)
    return shown


def plain(text: str) -> str:
    """``text`` shown as it is in a table cell (square brackets are not rich markup)."""
    from rich.markup import escape  # rich is imported by commands that print, not by --help

    return escape(text)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def echo_data(value: Any, output: str) -> None:
    """``value`` (the admin API's JSON) as ``output``: ``json`` or ``yaml``."""
    if output == "yaml":
        click.echo(yaml.safe_dump(value, sort_keys=False, allow_unicode=True), nl=False)
    else:
        echo_json(value)


def short_time(value: Any) -> str:
    """'2024-05-01 12:00:03' from an ISO 8601 time (as the API writes them), '' for none."""
    if not value:
        return ""
    text = str(value).replace("T", " ")
    return text[:19]
