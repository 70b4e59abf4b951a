"""What the commands that talk to the admin API share: their :class:`FlyteRemote` (the
one client of the control plane), and the rendering of remote executions: the live node
table of ``flyray run --remote --wait`` and ``flyray get executions NAME``, and failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from rich.console import Console
from rich.live import Live
from rich.table import Table

from engine.cli.common import cli_errors
from engine.configuration import Config
from engine.remote import FlyteRemote, FlyteWorkflowExecution

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
    # As wide as the title: rich would wrap it to the width of the columns.
    table = Table(title=title, title_justify="left", min_width=len(plain))
    for column in ("node", "task", "phase", "attempts", "cache", "duration"):
        table.add_column(column)
    for node in execution.node_executions.values():
        cache = node.closure.cache_status or ""
        duration = node.closure.duration
        node_phase = node.closure.phase.value
        table.add_row(node.node_id, node.task,
                      f"[{PHASE_STYLE.get(node_phase, '')}]{node_phase}",
                      str(len(node.attempts)), "" if cache == "DISABLED" else cache,
                      f"{duration.total_seconds():.2f}s" if duration is not None else "")
    return table


def follow(remote: FlyteRemote, execution: FlyteWorkflowExecution, console: Console | None,
           interval_s: float = 0.5,
           sleep: Callable[[float], None] = time.sleep) -> FlyteWorkflowExecution:
    """Poll the execution until it ends; with ``console``, show its nodes live."""
    began = time.monotonic()
    live = None
    if console is not None:
        live = Live(node_table(execution), console=console, refresh_per_second=4)
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
