"""``flyray run --remote FILE NAME [--input value ...]``: register FILE's package, launch
NAME over the admin API, print the execution's console URL, and with ``--wait`` follow
it to the end and print its outputs."""

from __future__ import annotations

from typing import Any

import click

from engine.cli import remote
from engine.cli.common import show_progress
from engine.cli.register import print_registration, register_or_fail
from engine.cli.run_options import RunOptions
from engine.core.image_spec import use_images
from engine.remote import FlyteTask, FlyteWorkflow


def run_remote(file: str, entity: Any, inputs: dict[str, Any], options: RunOptions) -> None:
    """Register, launch, and (with ``--wait``) follow one entity of ``file``."""
    if options.envvars:
        raise click.UsageError(
            "--envvars sets variables for a local run; the admin API takes none for an "
            "execution yet. Set them in the task (@task(environment={...})) and register "
            "it, or run without --remote")
    progress = show_progress(options.progress)
    # Registered as compiled with the run's images; the cluster's driver compiles the
    # code again under the images the registered specs record (serve.driver.code_loading).
    with use_images(options.images):
        registration = register_or_fail(file, options.endpoint, options.token,
                                        options.project, options.domain, options.version)
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
                               overwrite_cache=options.overwrite_cache,
                               timeout=options.timeout, labels=options.labels,
                               annotations=options.annotations,
                               raw_output_data_config=options.raw_output_prefix,
                               type_hints={**iface.outputs, **iface.inputs})
    click.echo(f"execution {execution.id.name}: {client.generate_console_url(execution)}")
    if options.wait:
        remote.finish(client, execution, progress, iface)
