"""``flyray run --remote FILE NAME [--input value ...]``: register FILE's package, launch
NAME over the admin API, print the execution's console URL, and with ``--wait`` follow
it to the end and print its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console

from engine.catalog.blob import BlobStore, StorageConfig
from engine.cli import remote
from engine.cli.common import client, settings
from engine.cli.register import print_registration, register_or_fail

# Where ``flyray run`` (the group) leaves its options for the entity's command.
OPTIONS_KEY = "flyray.run.remote"


@dataclass(frozen=True)
class RemoteOptions:
    """The options of ``flyray run`` that make a run remote."""

    remote: bool
    wait: bool
    project: str | None
    domain: str | None
    version: str | None
    name: str | None
    endpoint: str | None
    token: str | None
    timeout: float | None = None  # seconds the execution may run


def run_remote(file: str, entity: Any, inputs: dict[str, Any], options: RemoteOptions,
               overwrite_cache: bool, progress: bool) -> None:
    """Register, launch, and (with ``--wait``) follow one entity of ``file``."""
    registration = register_or_fail(file, options.endpoint, options.token, options.project,
                                    options.domain, options.version)
    if progress:
        print_registration(registration)
    else:
        new = sum(1 for o in registration.outcomes if o.status == "new")
        click.echo(f"registered {len(registration.outcomes)} entities ({new} new) in "
                   f"{registration.project}/{registration.domain} at version "
                   f"{registration.version}", err=True)
    admin = client(options.endpoint, options.token)
    store = BlobStore(StorageConfig.from_settings(settings()))
    literals = remote.input_literals(inputs, entity.python_interface, store)
    # A workflow runs as its default launch plan (same name and version), as in Flyte.
    target = "launch_plan" if hasattr(entity, "compile") else "task"
    execution = remote.launch(admin, registration.project, registration.domain, target,
                              entity.name, registration.version, literals, overwrite_cache,
                              options.name, options.timeout)
    ref = remote.ExecutionRef.of(execution)
    click.echo(f"execution {ref.name}: {remote.console_url(admin.endpoint, ref)}")
    if not options.wait:
        return
    execution = remote.follow(admin, ref, Console(stderr=True) if progress else None)
    if remote.phase_of(execution) != "SUCCEEDED":
        raise click.ClickException(f"execution {ref.name} "
                                   f"{remote.failure_message(execution)}")
    click.echo(str(remote.outputs(admin, ref, entity.python_interface, store)))
