"""Live progress of an execution on a terminal (rich), attached as execution hooks."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodePhase, NodeRecord

_STYLE = {
    NodePhase.QUEUED: "dim",
    NodePhase.RUNNING: "cyan",
    NodePhase.WAITING: "magenta",
    NodePhase.SUCCEEDED: "green",
    NodePhase.FAILED: "red",
    NodePhase.TIMED_OUT: "red",
    NodePhase.ABORTED: "yellow",
    NodePhase.SKIPPED: "dim",
    NodePhase.RECOVERED: "green",
}
# Above this many nodes the display shows counts per phase instead of one row per node.
_MAX_ROWS = 30
# An earlier attempt's error is shown by its first line, cut to this many characters.
_ERROR_CHARS = 100
WAITING_FOR_RAY = "waiting for Ray to start"


class _Waiting:
    """What the display shows before the execution starts: what it waits for, and for
    how long (rendered anew on each refresh, so the seconds tick)."""

    def __init__(self, reason: str, since: float) -> None:
        self.reason = reason
        self.since = since

    def __rich__(self) -> Text:
        return Text(f"{self.reason}  {time.monotonic() - self.since:.1f}s", style="dim")


class LiveProgress(ExecutionHooks):
    """Shows nodes queued / running / succeeded / failed while the execution runs, and
    under a retried node the errors of its earlier attempts.

    As hooks alone, the display starts with the execution. Entered as a context manager
    around the run (``with LiveProgress(console) as progress: run(..., [progress])``), it
    starts at once and says what the run waits for until its execution starts (Ray
    starting), and it is closed however the run ends.
    """

    def __init__(self, console: Console, waiting_for: str = WAITING_FOR_RAY) -> None:
        self.console = console
        self.waiting_for = waiting_for
        self.live: Live | None = None
        self.started = time.monotonic()
        self.entered = False  # True inside ``with``: the context, not the execution, ends it

    def __enter__(self) -> LiveProgress:
        self.entered = True
        self.started = time.monotonic()
        self._show(_Waiting(self.waiting_for, self.started))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.entered = False
        self._close()

    def on_execution_start(self, record: ExecutionRecord) -> None:
        if self.live is None:
            self.started = time.monotonic()
        self._show(self._render(record))

    def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
        if self.live is not None:
            self.live.update(self._render(record))

    def on_attempt_end(self, record: ExecutionRecord, node: NodeRecord,
                       attempt: AttemptRecord) -> None:
        # A retried node stays RUNNING (no phase change): its failed attempt shows now.
        if self.live is not None:
            self.live.update(self._render(record))

    def on_execution_end(self, record: ExecutionRecord) -> None:
        if self.live is not None:
            self.live.update(self._render(record))
        if not self.entered:
            self._close()

    def _show(self, renderable: RenderableType) -> None:
        if self.live is None:
            self.live = Live(renderable, console=self.console, refresh_per_second=8,
                             transient=False)
            self.live.start(refresh=True)  # shown at once, not at the first tick
        else:
            self.live.update(renderable)

    def _close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _render(self, record: ExecutionRecord) -> Table:
        elapsed = time.monotonic() - self.started
        table = Table(title=f"{record.workflow}  {record.name}  {record.phase.value}  "
                      f"{elapsed:.1f}s", title_justify="left", expand=False)
        if len(record.nodes) > _MAX_ROWS:
            _phase_counts(table, record)
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
            for attempt in earlier_failures(node):
                table.add_row(*_attempt_row(attempt), *[""] * (len(row) - 3), style="dim")
        return table


def earlier_failures(node: NodeRecord) -> list[AttemptRecord]:
    """The failed attempts of ``node`` before its last one: those its retries replaced."""
    return [a for a in node.attempts[:-1] if a.outcome is not None
            and a.outcome is not NodePhase.SUCCEEDED]


def _attempt_row(attempt: AttemptRecord) -> tuple[str, str, str]:
    """'  attempt 1', the first line of its error, 'FAILED USER'."""
    assert attempt.outcome is not None  # earlier_failures keeps ended attempts only
    first = headline(attempt.error or "")
    if len(first) > _ERROR_CHARS:
        first = first[:_ERROR_CHARS - 1] + "…"
    kind = f" {attempt.error_kind.value}" if attempt.error_kind is not None else ""
    return (f"  ↳ attempt {attempt.attempt}", escape(first),
            f"[{_STYLE[attempt.outcome]}]{attempt.outcome.value}[/]{kind}")


def headline(error: str) -> str:
    """The line that says what went wrong: of a Python traceback the exception's line
    (after the last frame), else the first line."""
    lines = [line for line in error.splitlines() if line.strip()]
    if not lines:
        return "(no error message)"
    if lines[0].startswith("Traceback (most recent call last)"):
        frames = [i for i, line in enumerate(lines) if line[:1].isspace()]
        if frames and frames[-1] + 1 < len(lines):
            return lines[frames[-1] + 1].strip()
    return lines[0].strip()


def _phase_counts(table: Table, record: ExecutionRecord) -> None:
    """One row per phase with its number of nodes, and how many nodes were retried."""
    table.add_column("phase")
    table.add_column("nodes", justify="right")
    for phase in NodePhase:
        count = sum(1 for n in record.nodes.values() if n.phase is phase)
        if count:
            table.add_row(f"[{_STYLE[phase]}]{phase.value}", str(count))
    retried = sum(1 for n in record.nodes.values() if earlier_failures(n))
    if retried:
        table.add_row("[yellow]retried", str(retried))


def _children_summary(node: NodeRecord) -> str:
    """'12 SUCCEEDED, 1 FAILED' for the nodes a dynamic, map or launch plan node ran."""
    counts: dict[NodePhase, int] = {}
    for child in node.children.values():
        counts[child.phase] = counts.get(child.phase, 0) + 1
    return ", ".join(f"[{_STYLE[p]}]{n} {p.value}[/]" for p, n in counts.items())
