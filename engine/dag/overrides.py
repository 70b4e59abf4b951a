"""A task as one node runs it: the node's ``.with_overrides(...)`` applied to its spec."""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.dag.spec import NodeOverrides, TaskSpec
from engine.dag.trace import TaskLike


class OverriddenTask:
    """A task as one node runs it, with that node's ``with_overrides`` applied."""

    def __init__(self, task: TaskLike, overrides: NodeOverrides) -> None:
        self.task = task
        self.name = task.name
        self.python_interface = task.python_interface
        base = task.spec()
        self._spec = dataclasses.replace(base, metadata=overrides.apply(base.metadata))

    def spec(self) -> TaskSpec:
        return self._spec

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        return self.task.run_function(inputs)
