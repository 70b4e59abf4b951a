"""``reference_task`` / ``reference_launch_plan``: typed stubs of registered entities.

The stub's signature types the calls at compile time. Resolving it to the
registered code needs the control plane (registration); until one is
configured, running a reference fails with a clear "not registered" error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.core.task import PythonFunctionTask
from engine.errors import NotYetSupportedError


class ReferenceTask(PythonFunctionTask):
    """A registered entity known by its identifier; its body is never run."""

    def __init__(self, fn: Callable[..., Any], kind: str, project: str, domain: str,
                 name: str, version: str) -> None:
        super().__init__(fn, name=name)
        self.reference = (kind, project, domain, name, version)

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        kind, project, domain, name, version = self.reference
        raise NotYetSupportedError(
            f"{kind} '{name}' ({project}/{domain}, version {version}) is a reference to a "
            "registered entity, and resolving references needs the admin service; it is "
            "not registered here"
        )


def reference_task(project: str, domain: str, name: str,
                   version: str) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """Declare a typed stub of the registered task ``project/domain/name@version``."""
    return lambda fn: ReferenceTask(fn, "task", project, domain, name, version)


def reference_launch_plan(project: str, domain: str, name: str,
                          version: str) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """Declare a typed stub of the registered launch plan ``project/domain/name@version``."""
    return lambda fn: ReferenceTask(fn, "launch plan", project, domain, name, version)
