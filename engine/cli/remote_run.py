"""``flyray run --remote FILE NAME [--input value ...]``: register FILE's package, launch
NAME over the admin API, print the execution's console URL, and with ``--wait`` follow
it to the end and print its outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console

from engine.cli import remote
from engine.cli.register import print_registration, register_or_fail
from engine.remote import FlyteTask, FlyteWorkflow

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
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    raw_output_prefix: str | None = None  # where its raw outputs go


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
    client = remote.flyte_remote(options.endpoint, options.token, registration.project,
                                 registration.domain)
    # A workflow runs as its default launch plan (same name and version), as in Flyte.
    fetch = client.fetch_workflow if hasattr(entity, "compile") else client.fetch_task
    registered: FlyteTask | FlyteWorkflow = fetch(name=entity.name,
                                                  version=registration.version)
    # The local types, not the guessed ones: the inputs are the file's Python values.
    iface = entity.python_interface
    execution = client.execute(registered, inputs, execution_name=options.name,
                               overwrite_cache=overwrite_cache, timeout=options.timeout,
                               labels=options.labels, annotations=options.annotations,
                               raw_output_data_config=options.raw_output_prefix,
                               type_hints={**iface.outputs, **iface.inputs})
    click.echo(f"execution {execution.id.name}: {client.generate_console_url(execution)}")
    if not options.wait:
        return
    execution = remote.follow(client, execution, Console(stderr=True) if progress else None)
    if not execution.is_successful:
        raise click.ClickException(f"execution {execution.id.name} "
                                   f"{remote.failure_message(execution)}")
    click.echo(str(execution.outputs.as_python_native(iface)))
