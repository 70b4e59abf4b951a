"""What the node panel shows: a node's typed inputs and outputs, its attempts (worker,
error, log), its cache status, the task's settings, and why it waits.

Values come from the stored forms (``engine.catalog.literals``): an inline value shows
as JSON up to ``MAX_VALUE`` bytes, a larger or offloaded one as a link to the data API
(``/api/v1/data/node_executions/...``), so opening a panel never loads a large value.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from engine.dag.run.state import NodePhase
from engine.dag.spec import Interface, ResourceSpec, TaskSpec, Variable, WorkflowSpec
from serve.console import diagnosis
from serve.console.graph import group_of, node_kind, single_task, specs
from serve.store import AdminStore
from serve.store.execution_records import CacheSource, Execution, ExecutionId, NodeExecution

MAX_VALUE = 4096


@dataclass(frozen=True)
class Value:
    name: str
    type: str
    text: str | None  # JSON of an inline value small enough to show
    size: int  # bytes of its JSON (0: offloaded, size unknown here)
    link: str | None  # where the whole value is, when not shown


@dataclass(frozen=True)
class Panel:
    execution: Execution
    node: NodeExecution
    kind: str
    task: TaskSpec | None
    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]
    settings: tuple[tuple[str, str], ...]
    cache: str | None
    waiting: str | None
    selected_attempt: int | None
    # The last attempt's HIT's producer (its execution linked when this admin drove it).
    cache_source: CacheSource | None = None


def workflow_spec(store: AdminStore, execution: Execution) -> WorkflowSpec | None:
    """The spec the execution runs (a task alone runs as a one-node workflow); kept per
    version, which never changes."""
    if execution.workflow is not None:
        ident = execution.workflow
        return specs.get(ident, lambda: WorkflowSpec.from_dict(store.get(ident).spec))
    if execution.task is not None:
        task_id = execution.task
        return specs.get(task_id, lambda: single_task(TaskSpec.from_dict(
            store.get(task_id).spec)))
    return None


def data_link(ident: ExecutionId, node_id: str) -> str:
    return (f"/api/v1/data/node_executions/{ident.project}/{ident.domain}/{ident.name}/"
            f"{node_id}")


def values(stored: dict[str, Any] | None, variables: tuple[Variable, ...],
           link: str) -> tuple[Value, ...]:
    if not stored:
        return ()
    types = {v.name: str(v.type) for v in variables}
    out = []
    for name, form in stored.items():
        if isinstance(form, dict) and "inline" in form:
            text = json.dumps(form["inline"], indent=1)
            size = len(text.encode())
            shown = size <= MAX_VALUE
            out.append(Value(name, types.get(name, "?"), text if shown else None, size,
                             None if shown else link))
        else:
            out.append(Value(name, types.get(name, "?"), None, 0, link))
    return tuple(out)


def task_settings(task: TaskSpec) -> tuple[tuple[str, str], ...]:
    meta = task.metadata
    rows = [("task", task.id.name), ("version", task.id.version),
            ("requests", diagnosis.describe_resources(meta.requests)),
            ("limits", diagnosis.describe_resources(meta.limits)
             if meta.limits != ResourceSpec() else "none"),
            ("retries", str(meta.retries)),
            ("timeout", diagnosis.duration(meta.timeout_s) if meta.timeout_s else "none"),
            ("cache", f"on (version {meta.cache_version or '-'})" if meta.cache else "off")]
    if meta.container_image:
        rows.append(("image", meta.container_image))
    return tuple(rows)


def build(store: AdminStore, execution: Execution, node: NodeExecution,
          attempt: int | None) -> Panel:
    """The panel of ``node`` of ``execution`` (``attempt``: the one selected)."""
    spec = workflow_spec(store, execution)
    task = None
    kind = "task"
    interface = Interface()
    upstream: list[str] = []
    if spec is not None and node.node_id in {n.id for n in spec.nodes}:
        spec_node = spec.node(node.node_id)
        task = spec.tasks.get(spec_node.task)
        interface = task.interface if task is not None else interface
        kind = node_kind(spec, node.node_id) if group_of(node.node_id) == node.node_id \
            else "task"
        upstream = spec_node.upstream()
    if node.children and kind == "task":
        kind = "dynamic"
    link = data_link(execution.id, node.node_id)
    last = node.attempts[-1] if node.attempts else None
    waiting = None
    if task is not None:
        states = store.node_states(execution.id, [node.node_id, *upstream])
        since = states.get(node.node_id, (node.phase, None))[1]
        waiting = diagnosis.node_waiting(node.phase, since, time.time(),
                                         {u: states[u][0] if u in states else NodePhase.QUEUED
                                          for u in upstream},
                                         task.metadata.requests)
    return Panel(execution, node, kind, task,
                 values(node.inputs, interface.inputs, link),
                 values(node.outputs, interface.outputs, link),
                 task_settings(task) if task is not None else (),
                 last.cache_status if last else None, waiting, attempt,
                 last.cache_source if last else None)
