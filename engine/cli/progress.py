"""Live progress of an execution on a terminal (rich), attached as execution hooks."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord, NodePhase, NodeRecord

_STYLE = {
    NodePhase.QUEUED: "dim",
    NodePhase.RUNNING: "cyan",
    NodePhase.SUCCEEDED: "green",
    NodePhase.FAILED: "red",
    NodePhase.TIMED_OUT: "red",
    NodePhase.ABORTED: "yellow",
    NodePhase.SKIPPED: "dim",
    NodePhase.RECOVERED: "green",
}
# Above this many nodes the display shows counts per phase instead of one row per node.
_MAX_ROWS = 30


class LiveProgress(ExecutionHooks):
    """Shows nodes queued / running / succeeded / failed while the execution runs."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.started = time.monotonic()

    def on_execution_start(self, record: ExecutionRecord) -> None:
        self.started = time.monotonic()
        self.live = Live(self._render(record), console=self.console, refresh_per_second=8,
                         transient=False)
        self.live.start()

    def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
        if self.live is not None:
            self.live.update(self._render(record))

    def on_execution_end(self, record: ExecutionRecord) -> None:
        if self.live is not None:
            self.live.update(self._render(record))
            self.live.stop()
            self.live = None

    def _render(self, record: ExecutionRecord) -> Table:
        elapsed = time.monotonic() - self.started
        table = Table(title=f"{record.workflow}  {record.name}  {record.phase.value}  "
                      f"{elapsed:.1f}s", title_justify="left", expand=False)
        if len(record.nodes) > _MAX_ROWS:
            table.add_column("phase")
            table.add_column("nodes", justify="right")
            for phase in NodePhase:
                count = sum(1 for n in record.nodes.values() if n.phase is phase)
                if count:
                    table.add_row(f"[{_STYLE[phase]}]{phase.value}", str(count))
            return table
        table.add_column("node")
        table.add_column("task")
        table.add_column("phase")
        table.add_column("attempts", justify="right")
        table.add_column("cache")
        with_children = any(n.children for n in record.nodes.values())
        if with_children:
            table.add_column("children")
        for node in record.nodes.values():
            cache = node.cache_status if node.cache_status != "DISABLED" else ""
            row = [node.node_id, node.task, f"[{_STYLE[node.phase]}]{node.phase.value}",
                   str(len(node.attempts)), cache or ""]
            if with_children:
                row.append(_children_summary(node))
            table.add_row(*row)
        return table


def _children_summary(node: NodeRecord) -> str:
    """'12 SUCCEEDED, 1 FAILED' for the nodes a dynamic, map or launch plan node ran."""
    counts: dict[NodePhase, int] = {}
    for child in node.children.values():
        counts[child.phase] = counts.get(child.phase, 0) + 1
    return ", ".join(f"[{_STYLE[p]}]{n} {p.value}[/]" for p, n in counts.items())
