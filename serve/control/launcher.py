"""Starting and stopping execution drivers on Ray: the :class:`~serve.control.launching.Launcher`
that ``serve.deployment`` gives the admin app.

Each launch of an execution gets its own detached actor, named
``flyray-driver:<project>:<domain>:<name>:<launch>`` in the namespace ``flyray``. When
the entity was registered with a code bundle, the actor's runtime environment has Ray's
``working_dir``: the zip's one top-level directory becomes the driver's (and its
tasks') working directory, on ``sys.path``. An execution outside the server's default
project and domain also gets them as ``FLYRAY_PROJECT``/``FLYRAY_DOMAIN``, so its tasks
compute their identities (cache keys) as the registered code did. Every other execution
runs with no runtime environment of its own, so its actor and tasks take Ray's warm
workers instead of starting processes.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import RayError

from engine.config import Settings, load_settings
from engine.dag.run.cluster import ensure_ray
from serve.control.launching import DriverTicket
from serve.driver.actor import ExecutionDriver
from serve.store.execution_records import ExecutionId

NAMESPACE = "flyray"


def actor_name(execution: ExecutionId, launch: int) -> str:
    return (f"flyray-driver:{execution.project}:{execution.domain}:{execution.name}:"
            f"{launch}")


class RayLauncher:
    """Drivers as detached Ray actors on the cluster this process is connected to."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def launch(self, ticket: DriverTicket) -> None:
        self._connect()
        env: dict[str, Any] = {}
        ident, settings = ticket.execution, ticket.settings
        if (ident.project, ident.domain) != (settings.project, settings.domain):
            env["env_vars"] = {"FLYRAY_PROJECT": ident.project, "FLYRAY_DOMAIN": ident.domain}
        if ticket.code_uri:
            env["working_dir"] = ticket.code_uri
        name = actor_name(ticket.execution, ticket.launch)
        try:
            ExecutionDriver.options(  # type: ignore[attr-defined]
                name=name, namespace=NAMESPACE, lifetime="detached", runtime_env=env or None,
                max_concurrency=4,
            ).remote(ticket)
        except ValueError:
            if self._handle(ticket.execution, ticket.launch) is None:
                raise  # not "the name is taken": a real failure
            # launched already: launching is idempotent

    def stop(self, execution: ExecutionId, launch: int, cause: str, timeout_s: float) -> bool:
        handle = self._handle(execution, launch)
        if handle is None:
            return False
        try:
            return bool(ray.get(handle.stop.remote(cause, timeout_s), timeout=timeout_s + 10))
        except RayError:  # died meanwhile, or no answer in time (GetTimeoutError)
            return False

    def is_alive(self, execution: ExecutionId, launch: int) -> bool:
        return self._handle(execution, launch) is not None

    def kill(self, execution: ExecutionId, launch: int) -> None:
        handle = self._handle(execution, launch)
        if handle is not None:
            ray.kill(handle, no_restart=True)

    def _handle(self, execution: ExecutionId, launch: int) -> Any:
        self._connect()
        try:
            return ray.get_actor(actor_name(execution, launch), namespace=NAMESPACE)
        except ValueError:
            return None

    def _connect(self) -> None:
        if not ray.is_initialized():
            ensure_ray(self.settings or load_settings())
