"""Reads of the admin API that ``FlyteRemote`` builds on: one GET (a 404 becomes an
``EntityNotFoundError``), every page of a listing, entities by identifier (tasks and
workflows cached: a registered version never changes), and the inputs and outputs of
executions and nodes, typed by what they run."""

from __future__ import annotations

import contextlib
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

from engine.admin_client import AdminClient, AdminRequestError
from engine.catalog.blob import BlobStore
from engine.dag.spec import Identifier, ResourceType
from engine.errors import EntityNotFoundError, FlyrayError, InputValueError
from engine.remote.data import LiteralsResolver, resolver
from engine.remote.entities import FlyteEntity, FlyteLaunchPlan, FlyteTask, FlyteWorkflow
from engine.remote.executions import FlyteNodeExecution, FlyteWorkflowExecution
from engine.remote.registration import Registration
from engine.types.guess import guess_python_type
from engine.types.interface import PythonInterface

_LOG = logging.getLogger("flyray.remote")
_PLURAL = {"task": "tasks", "workflow": "workflows", "launch_plan": "launch_plans"}
_MAX_PAGE = 1000  # the admin API's largest page


def path_of(path: str) -> str:
    """``path`` with each segment quoted for a URL."""
    return "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))


def log_outside(registration: Registration) -> None:
    for module in registration.outside:
        _LOG.warning("module '%s' is neither in the code bundle nor installed here; the "
                     "cluster must have it installed", module)


class Lookup:
    """What the admin API holds, read through ``client``."""

    def __init__(self, client: AdminClient, store: BlobStore) -> None:
        self.client = client
        self.store = store  # the admin's blob store: raw data in and out
        self._cache: dict[Identifier, FlyteEntity] = {}

    @contextlib.contextmanager
    def about(self, what: str) -> Iterator[None]:
        """A 404 inside the block is an EntityNotFoundError naming ``what``."""
        try:
            yield
        except AdminRequestError as e:
            if e.status == 404:
                raise EntityNotFoundError(f"{what} does not exist at the admin API "
                                          f"{self.client.endpoint} ({e})") from e
            raise

    def get(self, path: str, what: str, **query: Any) -> Any:
        """GET ``path``; ``what`` names the resource when the answer is 404."""
        with self.about(what):
            return self.client.get(path, **query)

    def pages(self, plural: str, project: str, domain: str, limit: int,
              **query: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` items of a listing of a project and domain, newest first."""
        return self.paged(f"/api/v1/{plural}/{path_of(project)}/{path_of(domain)}", plural,
                          f"project/domain {project}/{domain}", limit, **query)

    def paged(self, path: str, key: str, what: str, limit: int,
              **query: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` items (under ``key`` in each reply) of the listing at ``path``,
        following its page tokens; ``what`` names it when the answer is 404."""
        items: list[dict[str, Any]] = []
        token = ""
        while len(items) < limit:
            reply = self.get(path, what, limit=min(limit - len(items), _MAX_PAGE),
                             token=token, **query)
            items += reply[key]
            token = reply.get("token") or ""
            if not token:
                break
        return items[:limit]

    def _fetch_kind(self, kind: str, project: str, domain: str, name: str | None,
                    version: str | None) -> FlyteEntity:
        label = kind.replace("_", " ")
        if not name:
            raise InputValueError(f"fetch_{kind}: give the {label}'s name")
        plural = _PLURAL[kind]
        if version:
            cached = self._cache.get(Identifier(ResourceType(kind), project, domain, name,
                                                version))
            if cached is not None:
                return cached
            reply = self.get(f"/api/v1/{plural}/{path_of(f'{project}/{domain}/{name}')}/"
                             f"{path_of(version)}",
                             f"{label} '{name}' version {version} in {project}/{domain}")
        else:
            found = self.pages(plural, project, domain, 1, name=name)
            if not found:
                raise EntityNotFoundError(
                    f"{label} '{name}' is not registered in {project}/{domain} at the admin "
                    f"API {self.client.endpoint}; register it first ('flyray register', or "
                    "FlyteRemote.register_script)")
            reply = found[0]
        if kind == "launch_plan":
            return self.launch_plan_of(reply)
        entity = FlyteTask.of(reply) if kind == "task" else FlyteWorkflow.of(reply)
        self._cache[entity.id] = entity
        return entity

    def launch_plan_of(self, reply: dict[str, Any]) -> FlyteLaunchPlan:
        """A launch plan from the admin API's JSON; its workflow is fetched on first use."""
        workflow = Identifier.from_dict(reply["spec"]["workflow_id"])

        def fetch() -> FlyteWorkflow:
            fetched = self._fetch_kind("workflow", workflow.project, workflow.domain,
                                       workflow.name, workflow.version)
            assert isinstance(fetched, FlyteWorkflow)  # what _fetch_kind gives for a workflow
            return fetched

        return FlyteLaunchPlan.of(reply, fetch)

    def _execution(self, reply: dict[str, Any], entity: Any = None,
                   interface: PythonInterface | None = None) -> FlyteWorkflowExecution:
        return FlyteWorkflowExecution(reply, self._execution_data, entity, interface)

    def _entity_of(self, execution: FlyteWorkflowExecution) -> FlyteEntity:
        """What ``execution`` runs, fetched once."""
        if execution.flyte_entity is None:
            spec = execution.spec
            for kind, ident in (("launch_plan", spec.launch_plan), ("workflow", spec.workflow),
                                ("task", spec.task)):
                if ident is not None:
                    execution.flyte_entity = self._fetch_kind(
                        kind, ident.project, ident.domain, ident.name, ident.version)
                    break
        if execution.flyte_entity is None:
            raise FlyrayError(f"execution {execution.id} names no launch plan, workflow or "
                              "task")
        entity: FlyteEntity = execution.flyte_entity
        return entity

    def _execution_data(self, execution: FlyteWorkflowExecution,
                        key: str) -> LiteralsResolver:
        interface = execution.python_interface or full_interface(self._entity_of(execution))
        data = self.get(f"/api/v1/data/executions/{path_of(execution.id.path)}",
                        f"execution {execution.id}")
        types = interface.inputs if key == "inputs" else interface.outputs
        return resolver(data, key, types, self.store, f"the {key} of execution {execution.id}")

    def _node_data(self, execution: FlyteWorkflowExecution, node: FlyteNodeExecution,
                   key: str) -> LiteralsResolver:
        entity = self._entity_of(execution)
        workflow = getattr(entity, "flyte_workflow", entity)
        interface = (workflow.node_interface(node.node_id)
                     if isinstance(workflow, FlyteWorkflow) else entity.interface)
        variables = (interface.inputs if key == "inputs" else interface.outputs) \
            if interface is not None else ()
        types = {v.name: guess_python_type(v.type) for v in variables}
        path = f"{execution.id.path}/{node.node_id}"
        data = self.get(f"/api/v1/data/node_executions/{path_of(path)}",
                        f"node '{node.node_id}' of execution {execution.id}")
        return resolver(data, key, types, self.store,
                        f"the {key} of node '{node.node_id}' of execution {execution.id}")


def full_interface(entity: FlyteEntity) -> PythonInterface:
    """A launch plan's workflow's interface (its fixed inputs included), else the
    entity's own."""
    if isinstance(entity, FlyteLaunchPlan):
        return entity.flyte_workflow.python_interface
    return entity.python_interface
