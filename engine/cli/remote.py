"""What the commands that talk to the admin API share: their :class:`FlyteRemote` (the
one client of the control plane), and the rendering of remote executions: the live node
table of ``--wait`` (``flyray run --remote``, ``launch``, ``execution relaunch|recover``)
and of ``flyray get executions NAME``, and failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from engine.cli.common import cli_errors, console, table
from engine.configuration import Config
from engine.remote import FlyteRemote, FlyteWorkflowExecution
from engine.types.interface import PythonInterface

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
PHASE_STYLE = {"QUEUED": "dim", "RUNNING": "cyan", "SUCCEEDED": "green",
               "RECOVERED": "green", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "yellow",
               "SKIPPED": "dim"}


def flyte_remote(endpoint: str | None, token: str | None, project: str | None = None,
                 domain: str | None = None) -> FlyteRemote:
    """The client of a command: ``--endpoint`` and ``--token`` over the settings (an
    endpoint without a scheme is plain HTTP), ``--project`` and ``--domain`` as its
    defaults."""
    with cli_errors():
        config = Config.auto()
        platform = replace(config.platform, endpoint=endpoint or config.platform.endpoint,
                           token=token or config.platform.token, insecure=True)
        return FlyteRemote(config.with_params(platform=platform), project, domain)


def target_name(execution: FlyteWorkflowExecution) -> tuple[str, str]:
    """Name and version of what an execution runs: its launch plan, task or workflow."""
    spec = execution.spec
    for ident in (spec.launch_plan, spec.task, spec.workflow):
        if ident is not None:
            return ident.name, ident.version
    return "", ""


def node_table(execution: FlyteWorkflowExecution, elapsed: float | None = None) -> Table:
    """The nodes of an execution (as synced), one row each, as ``flyray run`` shows a
    local one."""
    phase = execution.closure.phase.value
    plain = f"{target_name(execution)[0] or '?'}  {execution.id.name}  {phase}"
    if elapsed is not None:
        plain += f"  {elapsed:.1f}s"
    style = PHASE_STYLE.get(phase, "")
    title = plain.replace(f"  {phase}", f"  [{style}]{phase}[/]", 1)
    nodes = table(title, ("node", "task", "phase", "attempts", "cache", "duration"))
    nodes.min_width = len(plain)  # as wide as the title: rich would wrap it to the columns
    for node in execution.node_executions.values():
        cache = node.closure.cache_status or ""
        duration = node.closure.duration
        node_phase = node.closure.phase.value
        nodes.add_row(node.node_id, node.task,
                      f"[{PHASE_STYLE.get(node_phase, '')}]{node_phase}",
                      str(len(node.attempts)), "" if cache == "DISABLED" else cache,
                      f"{duration.total_seconds():.2f}s" if duration is not None else "")
    return nodes


def follow(remote: FlyteRemote, execution: FlyteWorkflowExecution, live_on: Console | None,
           interval_s: float = 0.5,
           sleep: Callable[[float], None] = time.sleep) -> FlyteWorkflowExecution:
    """Poll the execution until it ends; with a console (``live_on``), show its nodes
    live there."""
    from rich.live import Live  # rich is imported by commands that print, not by --help

    began = time.monotonic()
    live = None
    if live_on is not None:
        live = Live(node_table(execution), console=live_on, refresh_per_second=4)
        live.start()
    try:
        while True:
            remote.sync(execution, sync_nodes=live is not None)
            if live is not None:
                live.update(node_table(execution, time.monotonic() - began))
            if execution.is_done:
                return execution
            sleep(interval_s)
    finally:
        if live is not None:
            live.stop()


def failure_message(execution: FlyteWorkflowExecution) -> str:
    closure = execution.closure
    phase = closure.phase.value
    if closure.error is not None:
        return f"{phase} with a {closure.error.kind.value} error:\n{closure.error.message}"
    if closure.abort_cause:
        return f"{phase}: {closure.abort_cause}"
    return phase


def finish(remote: FlyteRemote, execution: FlyteWorkflowExecution, progress: bool,
           interface: PythonInterface | None = None) -> None:
    """``--wait``: follow the execution to its end (its nodes live with ``progress``), then
    print its outputs, as ``interface`` packs them (default: by name); a failure is a CLI
    error (exit 1) saying how it ended."""
    execution = follow(remote, execution, console(stderr=True) if progress else None)
    if not execution.is_successful:
        raise click.ClickException(f"execution {execution.id.name} "
                                   f"{failure_message(execution)}")
    outputs = execution.outputs
    click.echo(str(outputs.as_python_native(interface) if interface is not None
                   else dict(outputs.items())))
