"""Executions over the admin API: launch one, follow it live, read its outputs.

Used by ``flyray run --remote`` and ``flyray execution ...``. Input values are sent as
the type engine's JSON literals; files and dataframes are uploaded to the blob store
first (the admin API accepts only URIs inside it) and sent as their URIs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from engine.admin_client import AdminClient
from engine.catalog.blob import BlobStore
from engine.catalog.literals import load_value
from engine.types.interface import PythonInterface
from engine.types.type_engine import DataContext, TypeEngine

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
PHASE_STYLE = {"QUEUED": "dim", "RUNNING": "cyan", "SUCCEEDED": "green",
               "RECOVERED": "green", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "yellow",
               "SKIPPED": "dim"}


@dataclass(frozen=True)
class ExecutionRef:
    project: str
    domain: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}"

    @classmethod
    def of(cls, execution: dict[str, Any]) -> ExecutionRef:
        ident = execution["id"]
        return cls(ident["project"], ident["domain"], ident["name"])


def console_url(endpoint: str, ref: ExecutionRef) -> str:
    return (f"{endpoint.rstrip('/')}/console/projects/{ref.project}/domains/{ref.domain}"
            f"/executions/{ref.name}")


def input_literals(values: dict[str, Any], interface: PythonInterface,
                   store: BlobStore) -> dict[str, Any]:
    """JSON literals of input values; raw data (files, dataframes) uploaded to ``store``."""
    ctx = DataContext(store, store.uri("inputs", uuid.uuid4().hex[:16]))
    return {name: TypeEngine.to_json(value, interface.inputs[name], ctx)
            for name, value in values.items()}


def launch(admin: AdminClient, project: str, domain: str, target: str, name: str,
           version: str, inputs: dict[str, Any], overwrite_cache: bool = False,
           execution_name: str | None = None, timeout_s: float | None = None
           ) -> dict[str, Any]:
    """Start an execution of a ``launch_plan``, ``workflow`` or ``task`` (``target``),
    ending TIMED_OUT past ``timeout_s`` seconds of running (None: no limit)."""
    body: dict[str, Any] = {"project": project, "domain": domain,
                            target: {"name": name, "version": version}, "inputs": inputs,
                            "overwrite_cache": overwrite_cache}
    if execution_name:
        body["name"] = execution_name
    if timeout_s is not None:
        body["timeout"] = timeout_s
    reply: dict[str, Any] = admin.post("/api/v1/executions", body).body
    return reply


def get_execution(admin: AdminClient, ref: ExecutionRef) -> dict[str, Any]:
    found: dict[str, Any] = admin.get(f"/api/v1/executions/{ref.path}")
    return found


def node_executions(admin: AdminClient, ref: ExecutionRef) -> list[dict[str, Any]]:
    reply = admin.get(f"/api/v1/node_executions/{ref.path}")
    return list(reply.get("node_executions", []))


def phase_of(execution: dict[str, Any]) -> str:
    return str(execution["closure"]["phase"])


def node_table(execution: dict[str, Any], nodes: list[dict[str, Any]],
               elapsed: float | None = None) -> Table:
    """The nodes of an execution, one row each, as ``flyray run`` shows a local one."""
    spec = execution["spec"]
    target = spec.get("launch_plan") or spec.get("workflow") or spec.get("task") or {}
    phase = phase_of(execution)
    plain = f"{target.get('name', '?')}  {execution['id']['name']}  {phase}"
    if elapsed is not None:
        plain += f"  {elapsed:.1f}s"
    style = PHASE_STYLE.get(phase, "")
    title = plain.replace(f"  {phase}", f"  [{style}]{phase}[/]", 1)
    # As wide as the title: rich would wrap it to the width of the columns.
    table = Table(title=title, title_justify="left", min_width=len(plain))
    for column in ("node", "task", "phase", "attempts", "cache", "duration"):
        table.add_column(column)
    for node in nodes:
        cache = node.get("cache_status") or ""
        duration = node.get("duration_s")
        table.add_row(node["id"]["node_id"], node.get("task", ""),
                      f"[{PHASE_STYLE.get(node['phase'], '')}]{node['phase']}",
                      str(len(node.get("attempts", []))),
                      "" if cache == "DISABLED" else cache,
                      f"{duration:.2f}s" if duration is not None else "")
    return table


def follow(admin: AdminClient, ref: ExecutionRef, console: Console | None,
           interval_s: float = 0.5,
           sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Poll the execution until it ends; with ``console``, show its nodes live."""
    began = time.monotonic()
    execution = get_execution(admin, ref)
    live = None
    if console is not None:
        live = Live(node_table(execution, []), console=console, refresh_per_second=4)
        live.start()
    try:
        while True:
            if live is not None:
                nodes = node_executions(admin, ref)
                live.update(node_table(execution, nodes, time.monotonic() - began))
            if phase_of(execution) in TERMINAL:
                return execution
            sleep(interval_s)
            execution = get_execution(admin, ref)
    finally:
        if live is not None:
            live.stop()


def outputs(admin: AdminClient, ref: ExecutionRef, interface: PythonInterface | None,
            store: BlobStore) -> Any:
    """The execution's outputs: Python values packed as a local run returns them when
    ``interface`` is given, else the JSON literals by output name."""
    data = admin.get(f"/api/v1/data/executions/{ref.path}")
    literals: dict[str, Any] = data.get("outputs") or {}
    if interface is None:
        return literals
    offloaded = set(data.get("offloaded") or ())
    ctx = DataContext(store, store.uri("tmp"))
    values = []
    for name, python_type in interface.outputs.items():
        value = literals.get(name)
        if f"outputs.{name}" in offloaded and isinstance(value, dict):
            values.append(load_value(value, python_type, store))
        else:
            values.append(TypeEngine.from_json(value, python_type, ctx))
    return interface.pack_outputs(values)


def failure_message(execution: dict[str, Any]) -> str:
    closure = execution["closure"]
    error = closure.get("error")
    if error:
        return f"{closure['phase']} with a {error['kind']} error:\n{error['message']}"
    if closure.get("abort_cause"):
        return f"{closure['phase']}: {closure['abort_cause']}"
    return str(closure["phase"])
