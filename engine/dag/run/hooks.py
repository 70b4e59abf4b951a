"""Named hooks through which progress display, events and (later) caching attach."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodeRecord


class ExecutionHooks:
    """Override what you need; every hook is called in the driver, never in workers."""

    # True for hooks that need each succeeded node's output values (a remote execution's
    # driver stores them durably): the executor fetches outputs only when a hook asks.
    wants_outputs: ClassVar[bool] = False

    def on_execution_start(self, record: ExecutionRecord) -> None:
        """The execution's nodes are known and about to be submitted."""

    def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
        """``node`` entered a new phase."""

    def on_node_outputs(self, record: ExecutionRecord, node: NodeRecord,
                        outputs: dict[str, Any]) -> None:
        """``node``'s attempt succeeded with ``outputs`` (output name -> value); called
        before the node becomes SUCCEEDED, and only on hooks whose ``wants_outputs``."""

    def on_attempt_start(self, record: ExecutionRecord, node: NodeRecord,
                         attempt: AttemptRecord) -> None:
        """An attempt of ``node`` was submitted (``attempt.log_uri`` says where its log
        will be); it may wait for its inputs or a worker before it runs."""

    def on_attempt_end(self, record: ExecutionRecord, node: NodeRecord,
                       attempt: AttemptRecord) -> None:
        """An attempt of ``node`` finished, successfully or not."""

    def on_execution_end(self, record: ExecutionRecord) -> None:
        """The execution reached a terminal phase."""
