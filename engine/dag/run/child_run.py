"""A node that runs a whole sub-DAG inside itself: a ``@dynamic`` body's workflow or a
launch plan's workflow, started from the worker running that node.

The sub-DAG is its own execution (its own name, its ``parent`` naming the node); its
node records come back as the children of the node that started it.
"""

from __future__ import annotations

from typing import Any

from engine.config import Settings, load_settings
from engine.dag.compiler import CompiledWorkflow
from engine.dag.run.context import current_node
from engine.dag.run.executor import ExecutionResult, run
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import ExecutionRecord
from engine.dag.run.worker import report_children


class _ReportChildren(ExecutionHooks):
    def on_execution_start(self, record: ExecutionRecord) -> None:
        report_children(record.nodes, record.name)

    def on_execution_end(self, record: ExecutionRecord) -> None:
        report_children(record.nodes, record.name)


def run_child(compiled: CompiledWorkflow, inputs: dict[str, Any],
              settings: Settings | None = None) -> ExecutionResult:
    """Run ``compiled`` as a child execution of the node running here (if any), with
    that node's blob store and catalog; raise as :func:`engine.dag.run.executor.run`."""
    node = current_node()
    return run(compiled, inputs, hooks=[_ReportChildren()], settings=settings or load_settings(),
               services=node[1] if node is not None else None)
