"""``reference_task`` / ``reference_launch_plan``: typed stubs of registered entities.

The stub's signature types the calls at compile time. A node of one runs the registered
entity through the admin API (:mod:`engine.dag.run.reference_run`): it checks the registered
interface against the stub's, launches an execution with the node's inputs, waits for it
and returns its outputs. The stub's body never runs in a workflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from engine.config import chosen_namespace
from engine.core.task import PythonFunctionTask
from engine.dag.resources import Resources
from engine.dag.spec import Identifier, ResourceType, TaskSpec


class ReferenceTask(PythonFunctionTask):
    """A registered entity known by its identifier (``reference``); its body never runs
    in a workflow. Its node only waits for the execution it launches: it asks for no CPU."""

    def __init__(self, fn: Callable[..., Any], kind: ResourceType, project: str, domain: str,
                 name: str, version: str) -> None:
        super().__init__(fn, name=name, requests=Resources(cpu=0))
        self.reference = Identifier(kind, project, domain, name, version)

    def spec(self) -> TaskSpec:
        """The stub's spec, marked with the entity it refers to: registration leaves the
        stub out and checks that the entity is registered."""
        spec = super().spec()
        if spec.reference is None:
            spec = dataclasses.replace(spec, reference=self.reference)
            self._specs[chosen_namespace()] = spec
        return spec

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        # The admin client and the runtime (Ray) are loaded where the node runs, not by
        # declaring a stub.
        from engine.dag.run.reference_run import run_reference

        return run_reference(self.reference, self.python_interface, inputs)


def reference_task(project: str, domain: str, name: str,
                   version: str) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """Declare a typed stub of the registered task ``project/domain/name@version``."""
    return lambda fn: ReferenceTask(fn, ResourceType.TASK, project, domain, name, version)


def reference_launch_plan(project: str, domain: str, name: str,
                          version: str) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """Declare a typed stub of the registered launch plan ``project/domain/name@version``."""
    return lambda fn: ReferenceTask(fn, ResourceType.LAUNCH_PLAN, project, domain, name,
                                    version)
