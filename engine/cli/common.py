"""Options and error handling shared by the commands that talk to the admin API."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from rich.console import Console

from engine.admin_client import AdminClient
from engine.config import Settings, load_settings
from engine.errors import FlyrayError

F = TypeVar("F", bound=Callable[..., Any])


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


def console() -> Console:
    """Where tables go: stdout, wide enough that ids are not cut."""
    return Console(width=200, highlight=False)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def short_time(value: Any) -> str:
    """'2024-05-01 12:00:03' from an ISO 8601 time (as the API writes them), '' for none."""
    if not value:
        return ""
    text = str(value).replace("T", " ")
    return text[:19]
