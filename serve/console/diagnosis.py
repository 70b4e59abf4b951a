"""What the execution page says is wrong: the error banner, and why something waits.

The banner names the error's kind (USER: the task's code raised; SYSTEM: the platform
failed), the node it came from, its headline (a traceback's exception line), and the
whole message cut at 64 KB. A node or execution QUEUED for long gets a plain reason from
what the admin knows: the admin does not see the Ray cluster's free resources, so it
says what the node asks for and where to look, rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.dag.run.state import ExecutionPhase, NodePhase
from engine.dag.spec import ResourceSpec
from serve.store.change_records import headline
from serve.store.execution_records import Execution
from serve.store.execution_views import FailedNode

MAX_DETAIL = 64 * 1024
# A node or execution QUEUED longer than this gets a reason.
WAIT_S = 20.0


@dataclass(frozen=True)
class Banner:
    kind: str  # USER or SYSTEM
    node_id: str | None
    task: str | None
    headline: str
    detail: str  # the whole message, at most MAX_DETAIL bytes of it
    truncated: bool


def error_banner(execution: Execution, failed: FailedNode | None) -> Banner | None:
    """The banner of an execution that failed or has a failed node (None: neither)."""
    if failed is None and execution.error is None:
        return None
    if failed is not None:
        kind, message = failed.error_kind, failed.error
    else:
        assert execution.error is not None
        kind, message = execution.error.kind, execution.error.message
    raw = message.encode()
    detail = raw[:MAX_DETAIL].decode(errors="ignore")
    return Banner(kind, failed.node_id if failed else None, failed.task if failed else None,
                  headline(message) or "", detail, len(raw) > MAX_DETAIL)


def describe_resources(requests: ResourceSpec) -> str:
    parts = []
    if requests.cpu is not None:
        parts.append(f"cpu={requests.cpu:g}")
    if requests.mem is not None:
        parts.append(f"memory={requests.mem / 2**30:.3g} GiB")
    if requests.gpu is not None:
        parts.append(f"gpu={requests.gpu:g}")
    return ", ".join(parts) or "the default resources (1 CPU)"


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def execution_waiting(execution: Execution, now: float,
                      max_parallel: int | None) -> str | None:
    """Why an execution is still QUEUED (None: it is not, or not for long)."""
    if execution.phase is not ExecutionPhase.QUEUED:
        return None
    waited = now - execution.created_at.timestamp()
    if waited < WAIT_S:
        return None
    if max_parallel is not None:
        return (f"QUEUED for {duration(waited)}: its launch plan runs at most "
                f"{max_parallel} execution(s) at once (max_parallel_executions); it starts "
                "when one of them ends")
    return (f"QUEUED for {duration(waited)}: no driver has claimed it yet; the admin "
            "starts one when an executor is up (flyray executor status)")


def node_waiting(phase: NodePhase, since: float | None, now: float,
                 upstream: Mapping[str, NodePhase], requests: ResourceSpec) -> str | None:
    """Why a node is still QUEUED: its upstream nodes that have not finished, or else
    the resources it asks of the Ray cluster (None: it is not QUEUED, or not for long)."""
    if phase is not NodePhase.QUEUED or since is None or now - since < WAIT_S:
        return None
    waited = duration(now - since)
    pending = [n for n, p in upstream.items() if not p.has_outputs]
    if pending:
        return (f"QUEUED for {waited}: waiting for upstream node(s) "
                f"{', '.join(pending[:10])} to finish")
    return (f"QUEUED for {waited}: its upstream nodes are done and it waits for a Ray "
            f"worker with {describe_resources(requests)}; the admin cannot see the "
            "cluster's free resources: `ray status` lists pending and infeasible demands")
