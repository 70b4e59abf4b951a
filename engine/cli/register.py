"""``flyray register PATH``: fast registration of a package's tasks, workflows and launch
plans, with its source tree bundled into the blob store."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import click
from rich.table import Table

from engine.admin_client import AdminClient, AdminRequestError
from engine.catalog.blob import BlobStore, StorageConfig
from engine.cli.bundle import Bundle, build_bundle, upload_bundle
from engine.cli.common import (
    admin_options,
    client,
    console,
    scope,
    scope_options,
    settings,
    with_cli_errors,
)
from engine.cli.packages import Found, LoadedPackage, find_entities, load_package
from engine.cli.registration import (
    Outcome,
    Step,
    content_version,
    modules_outside,
    plan_registration,
    register,
    with_version,
)
from engine.config import Settings
from engine.errors import FlyrayError


@dataclass(frozen=True)
class Registration:
    """What one fast registration did."""

    package: LoadedPackage
    found: Found
    bundle: Bundle
    code_uri: str
    project: str
    domain: str
    version: str
    outcomes: list[Outcome]
    # Task modules neither bundled nor installed here: the cluster must provide them.
    outside: list[str]


class RegistrationError(FlyrayError):
    """The admin API refused an entity; ``done`` lists what was registered before it."""

    def __init__(self, refused: Step, cause: AdminRequestError, done: list[Outcome]) -> None:
        ident = refused.id
        super().__init__(
            f"the admin API refused {ident.resource_type.value.replace('_', ' ')} "
            f"'{ident.name}' at version {ident.version} ({cause.status} {cause.kind}): "
            f"{cause.message}")
        self.refused = refused
        self.cause = cause
        self.done = done


def _flyray_packages() -> list[Path]:
    """Flyray's own packages: never bundled, the cluster runs its installed Flyray."""
    found = []
    for name in ("engine", "serve"):
        spec = importlib.util.find_spec(name)
        locations = (spec.submodule_search_locations if spec is not None else None) or []
        found += [Path(p).resolve() for p in locations]
    return found


def fast_register(path: str, admin: AdminClient, current: Settings, project: str,
                  domain: str, version: str | None) -> Registration:
    """Import the package at ``path``, bundle its source root into the blob store, and
    register everything it defines under one version (default: a content hash)."""
    package = load_package(path)
    found = find_entities(package.modules)
    steps = plan_registration(found)
    if not steps:
        raise FlyrayError(f"{path} defines no task, workflow or launch plan to register")
    bundle = build_bundle(package.root, [*_flyray_packages(), current.home])
    outside = modules_outside(steps, bundle)
    version = version or content_version(steps, bundle)
    steps = with_version(steps, project, domain, version)
    admin.check()  # before uploading: an unreachable admin is the likelier mistake
    code_uri = upload_bundle(bundle, BlobStore(StorageConfig.from_settings(current)))
    done: list[Outcome] = []
    try:
        done.extend(register(admin, steps, code_uri))
    except AdminRequestError as e:  # register() yields one outcome per step, in order
        raise RegistrationError(steps[len(done)], e, done) from e
    return Registration(package, found, bundle, code_uri, project, domain, version, done,
                        outside)


def outcome_table(outcomes: list[Outcome], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("kind", "name", "version", "status"):
        table.add_column(column)
    for outcome in outcomes:
        kind = outcome.step.kind.value.replace("_", " ")
        if outcome.step.default_plan:
            kind += " (default)"
        style = "green" if outcome.status == "new" else "dim"
        table.add_row(kind, outcome.step.id.name, outcome.step.id.version,
                      f"[{style}]{outcome.status}")
    return table


def print_registration(result: Registration) -> None:
    out = console()
    size = len(result.bundle.data)
    # soft_wrap: a URI is never broken across lines, whatever the terminal's width.
    out.print(f"code: {result.code_uri} ({len(result.bundle.files)} files, "
              f"{size / 1024:.1f} KiB, from {result.bundle.root})", soft_wrap=True)
    out.print(outcome_table(
        result.outcomes, f"{len(result.outcomes)} entities in {result.project}/"
        f"{result.domain} at version {result.version}"))
    for module in result.outside:
        out.print(f"[yellow]note:[/] module '{module}' is neither in the code bundle nor "
                  "installed here; the cluster must have it installed", soft_wrap=True)


def register_or_fail(path: str, endpoint: str | None, token: str | None,
                     project: str | None, domain: str | None,
                     version: str | None) -> Registration:
    """Fast registration for a command: a refusal prints what was registered, then fails."""
    project, domain = scope(project, domain)
    admin = client(endpoint, token)
    try:
        return fast_register(path, admin, settings(), project, domain, version)
    except RegistrationError as e:
        if e.done:
            console().print(outcome_table(e.done, "registered before the refusal"))
        raise click.ClickException(str(e)) from e


@click.command("register",
               help="Register every task, workflow and launch plan of the package at PATH "
               "(a package directory, a source root, or a .py file: its whole package), "
               "with its source tree bundled into the blob store.")
@click.argument("path", type=click.Path(exists=True))
@scope_options
@click.option("--version", "-v", default=None,
              help="Version of every entity (default: a hash of the code and the specs).")
@admin_options
@with_cli_errors
def register_command(path: str, project: str | None, domain: str | None,
                     version: str | None, endpoint: str | None, token: str | None) -> None:
    print_registration(register_or_fail(path, endpoint, token, project, domain, version))
