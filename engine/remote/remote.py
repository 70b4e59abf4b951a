"""``FlyteRemote``: the control plane from Python, as flytekit's ``flytekit.remote``.

Fetch registered entities and executions, register local code (bundled as ``flyray
register`` bundles it), launch, follow, read typed inputs and outputs, terminate,
relaunch and recover, activate launch plans, list and create projects (the calls of
:class:`~engine.remote.projects.Projects`). Every call goes over HTTP through
:class:`~engine.admin_client.AdminClient`: nothing answering is an
``AdminUnreachableError`` saying how to start a demo; a refusal is an
``AdminRequestError`` with the server's message (a missing entity an
``EntityNotFoundError``).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from typing import Any

from engine.admin_client import AdminClient
from engine.catalog.blob import BlobStore
from engine.config import load_settings
from engine.configuration import Config
from engine.core.launch_plan import LaunchPlan
from engine.dag.run.state import ExecutionPhase
from engine.dag.spec import Identifier
from engine.dag.spec.labels import Annotations, Labels, RawOutputDataConfig, launch_fields
from engine.errors import (
    InputValueError,
    NotYetSupportedError,
    WaitTimeoutError,
)
from engine.remote import _admin
from engine.remote._admin import full_interface, path_of
from engine.remote.data import input_literals
from engine.remote.entities import FlyteEntity, FlyteLaunchPlan, FlyteTask, FlyteWorkflow
from engine.remote.executions import (
    FlyteNodeExecution,
    FlyteWorkflowExecution,
    WorkflowExecutionIdentifier,
)
from engine.remote.logs import Logs
from engine.remote.packages import entity_kind, found_for, source_root_of
from engine.remote.projects import Projects
from engine.remote.registration import Registration, fast_register, register_found
from engine.remote.signals import Signals
from engine.types.interface import PythonInterface

Seconds = float | dt.timedelta
ExecutionLike = FlyteWorkflowExecution | WorkflowExecutionIdentifier | str
_DEFAULT_POLL_S = 1.0


def _seconds(value: Seconds | None) -> float | None:
    return value.total_seconds() if isinstance(value, dt.timedelta) else value


class FlyteRemote(Projects, Signals, Logs):
    """A client of the Flyray control plane (the admin API).

    Args:
        config: where the admin API and its blob store are (default: ``Config.auto()``).
        default_project: used where a call names no project (default: the ``project``
            setting).
        default_domain: used where a call names no domain (default: the ``domain``
            setting).
    """

    def __init__(self, config: Config | None = None, default_project: str | None = None,
                 default_domain: str | None = None) -> None:
        self.config = config or Config.auto()
        if default_project is None or default_domain is None:
            settings = load_settings()
            default_project = default_project or settings.project
            default_domain = default_domain or settings.domain
        self.default_project = default_project
        self.default_domain = default_domain
        platform = self.config.platform
        super().__init__(AdminClient(platform.url, platform.token, platform.timeout),
                         BlobStore(self.config.data_config.storage()))

    # --- Registration ----------------------------------------------------------------

    def register_task(self, entity: Any, serialization_settings: Any = None,
                      version: str | None = None, project: str | None = None,
                      domain: str | None = None) -> FlyteTask:
        """Register a local ``@task`` with its source tree bundled (see
        :meth:`register_script`); ``serialization_settings`` is accepted for flytekit's
        sake and unused."""
        task = self._register_kind("task", entity, version, project, domain)
        assert isinstance(task, FlyteTask)  # what registering a task fetches
        return task

    def register_workflow(self, entity: Any, serialization_settings: Any = None,
                          version: str | None = None, default_launch_plan: bool = True,
                          options: Any = None, project: str | None = None,
                          domain: str | None = None) -> FlyteWorkflow:
        """Register a local ``@workflow``, the tasks and launch plans it uses and its
        default launch plan (always registered with it)."""
        workflow = self._register_kind("workflow", entity, version, project, domain)
        assert isinstance(workflow, FlyteWorkflow)  # what registering a workflow fetches
        return workflow

    def register_launch_plan(self, entity: LaunchPlan, version: str | None = None,
                             project: str | None = None, domain: str | None = None,
                             options: Any = None) -> FlyteLaunchPlan:
        """Register a local ``LaunchPlan`` and its workflow; it is INACTIVE until
        activated (:meth:`activate_launchplan`)."""
        plan = self._register_kind("launch_plan", entity, version, project, domain)
        assert isinstance(plan, FlyteLaunchPlan)  # what registering a launch plan fetches
        return plan

    def register_script(self, entity: Any, image_config: Any = None,
                        version: str | None = None, project: str | None = None,
                        domain: str | None = None, destination_dir: str = ".",
                        copy_all: bool = False, default_launch_plan: bool = True,
                        options: Any = None, source_path: str | None = None,
                        module_name: str | None = None, envs: dict[str, str] | None = None,
                        fast_package_options: Any = None) -> FlyteEntity:
        """Register a local task, workflow or launch plan and everything it uses, with
        its source tree bundled into the blob store, as ``flyray register`` does.

        Args:
            entity: the local ``@task``, ``@workflow`` or ``LaunchPlan``.
            image_config: accepted for flytekit's sake: the cluster runs the bundle on
                its own Python.
            version: of every entity registered (default: a hash of the code and specs).
            project: where (default: the remote's default project).
            domain: where (default: the remote's default domain).
            source_path: the source root to bundle (default: the directory the entity's
                module imports from).
            destination_dir: accepted for flytekit's sake.
            copy_all: accepted for flytekit's sake: the whole source root is bundled.
            default_launch_plan: accepted for flytekit's sake: a workflow's default
                launch plan is always registered.
            options: accepted for flytekit's sake.
            module_name: accepted for flytekit's sake: the module is the entity's own.
            envs: not supported yet.
            fast_package_options: accepted for flytekit's sake.

        Returns:
            The registered entity, fetched.
        """
        if envs is not None:
            raise NotYetSupportedError("FlyteRemote.register_script(envs=...)")
        kind = entity_kind(entity)
        if kind is None:
            raise InputValueError(f"register_script takes a local task, workflow or launch "
                                  f"plan, got {entity!r}")
        registration = register_found(
            found_for(entity), source_root_of(entity, source_path), self.client, self.store,
            project or self.default_project, domain or self.default_domain, version,
            f"'{entity.name}'")
        _admin.log_outside(registration)
        return self._fetch_kind(kind, registration.project, registration.domain,
                                entity.name, registration.version)

    def register_package(self, path: str, version: str | None = None,
                         project: str | None = None, domain: str | None = None,
                         raw_output_prefix: str | None = None) -> Registration:
        """Fast registration of a package, exactly as ``flyray register PATH``: every
        task, workflow and launch plan it defines, under one version; launch plans that
        set no raw-output prefix get ``raw_output_prefix``."""
        registration = fast_register(path, self.client, self.store,
                                     project or self.default_project,
                                     domain or self.default_domain, version,
                                     raw_output_prefix)
        _admin.log_outside(registration)
        return registration

    def _register_kind(self, kind: str, entity: Any, version: str | None,
                       project: str | None, domain: str | None) -> FlyteEntity:
        if entity_kind(entity) != kind:
            raise InputValueError(f"register_{kind} takes a local {kind.replace('_', ' ')}, "
                                  f"got {entity!r}")
        return self.register_script(entity, version=version, project=project, domain=domain)

    # --- Fetching ----------------------------------------------------------------------

    def _scope(self, project: str | None, domain: str | None) -> tuple[str, str]:
        return project or self.default_project, domain or self.default_domain

    def fetch_task(self, project: str | None = None, domain: str | None = None,
                   name: str | None = None, version: str | None = None) -> FlyteTask:
        """A registered task; its latest version unless ``version`` is given."""
        task = self._fetch_kind("task", *self._scope(project, domain), name, version)
        assert isinstance(task, FlyteTask)  # what _fetch_kind gives for a task
        return task

    def fetch_workflow(self, project: str | None = None, domain: str | None = None,
                       name: str | None = None, version: str | None = None) -> FlyteWorkflow:
        """A registered workflow; its latest version unless ``version`` is given."""
        workflow = self._fetch_kind("workflow", *self._scope(project, domain), name, version)
        assert isinstance(workflow, FlyteWorkflow)  # what _fetch_kind gives for a workflow
        return workflow

    def fetch_launch_plan(self, project: str | None = None, domain: str | None = None,
                          name: str | None = None,
                          version: str | None = None) -> FlyteLaunchPlan:
        """A registered launch plan with its workflow; its latest version unless
        ``version`` is given."""
        plan = self._fetch_kind("launch_plan", *self._scope(project, domain), name, version)
        assert isinstance(plan, FlyteLaunchPlan)  # what _fetch_kind gives for a launch plan
        return plan

    def fetch_execution(self, project: str | None = None, domain: str | None = None,
                        name: str | None = None) -> FlyteWorkflowExecution:
        """An execution by name (not synced with its nodes: see :meth:`sync`)."""
        if not name:
            raise InputValueError("fetch_execution: give the execution's name")
        project, domain = self._scope(project, domain)
        path = f"{project}/{domain}/{name}"
        return self._execution(self.get(f"/api/v1/executions/{path_of(path)}",
                                        f"execution {path}"))

    def list_tasks(self, project: str | None = None, domain: str | None = None,
                   name: str | None = None, name_contains: str | None = None,
                   limit: int = 100) -> list[FlyteTask]:
        """Registered task versions, newest first; only ``name``'s, or names containing
        ``name_contains``, when given."""
        replies = self.pages("tasks", *self._scope(project, domain), limit, name=name,
                             name_contains=name_contains)
        return [FlyteTask.of(r) for r in replies]

    def list_workflows(self, project: str | None = None, domain: str | None = None,
                       name: str | None = None, name_contains: str | None = None,
                       limit: int = 100) -> list[FlyteWorkflow]:
        """Registered workflow versions, newest first (filters as :meth:`list_tasks`)."""
        replies = self.pages("workflows", *self._scope(project, domain), limit, name=name,
                             name_contains=name_contains)
        return [FlyteWorkflow.of(r) for r in replies]

    def list_launch_plans(self, project: str | None = None, domain: str | None = None,
                          name: str | None = None, name_contains: str | None = None,
                          limit: int = 100) -> list[FlyteLaunchPlan]:
        """Registered launch plan versions, newest first (filters as :meth:`list_tasks`)."""
        replies = self.pages("launch_plans", *self._scope(project, domain), limit, name=name,
                             name_contains=name_contains)
        return [self.launch_plan_of(r) for r in replies]

    def recent_executions(self, project: str | None = None, domain: str | None = None,
                          limit: int = 100,
                          phase: str | ExecutionPhase | list[str | ExecutionPhase] | None = None,
                          launch_plan: str | None = None,
                          created_after: dt.datetime | None = None,
                          created_before: dt.datetime | None = None,
                          labels: dict[str, str] | None = None,
                          ) -> list[FlyteWorkflowExecution]:
        """Executions, newest first; only those in ``phase`` (one or several), of
        ``launch_plan`` (a name), created in the given window (UTC when naive), or with
        every one of ``labels``."""
        phases = [phase] if isinstance(phase, (str, ExecutionPhase)) else list(phase or ())
        known = {p.value for p in ExecutionPhase}
        unknown = [p for p in phases if p not in known]
        if unknown:
            raise InputValueError(f"recent_executions: phase {unknown[0]!r} is not one of "
                                  f"{', '.join(sorted(known))}")
        replies = self.pages(
            "executions", *self._scope(project, domain), limit,
            phase=[ExecutionPhase(p).value for p in phases] or None, launch_plan=launch_plan,
            created_after=created_after.isoformat() if created_after else None,
            created_before=created_before.isoformat() if created_before else None,
            label=[f"{k}:{v}" for k, v in (labels or {}).items()] or None)
        return [self._execution(r) for r in replies]

    # --- Running -----------------------------------------------------------------------

    def execute(self, entity: Any, inputs: dict[str, Any] | None = None,
                project: str | None = None, domain: str | None = None,
                name: str | None = None, version: str | None = None,
                execution_name: str | None = None, execution_name_prefix: str | None = None,
                image_config: Any = None, options: Any = None, wait: bool = False,
                type_hints: dict[str, Any] | None = None,
                overwrite_cache: bool | None = None, timeout: Seconds | None = None,
                serialization_settings: Any = None, envs: dict[str, str] | None = None,
                tags: list[str] | None = None, cluster_pool: str | None = None,
                interruptible: bool | None = None,
                poll_interval: Seconds | None = None,
                labels: Labels | dict[str, str] | None = None,
                annotations: Annotations | dict[str, str] | None = None,
                raw_output_data_config: RawOutputDataConfig | str | None = None,
                ) -> FlyteWorkflowExecution:
        """Launch a fetched launch plan, workflow (its default launch plan) or task, or a
        local ``@task``, ``@workflow`` or ``LaunchPlan``, registered first (see
        :meth:`register_script`; ``version`` is the version to register).

        Args:
            entity: what to run.
            inputs: Python values by input name, checked and converted by the type
                engine; files and dataframes are uploaded to the blob store first.
            execution_name: the execution's name: the same call again returns the same
                execution instead of starting another (safe retries).
            execution_name_prefix: a generated name starts with it.
            wait: follow it to its end (see :meth:`wait`, with ``poll_interval``).
            type_hints: Python types of inputs and outputs by name, instead of the types
                guessed for a fetched entity.
            overwrite_cache: run cached tasks again and replace their cached outputs.
            timeout: how long the execution may run once started (seconds or a
                timedelta); past it, it ends TIMED_OUT. ``wait``'s own limit is
                :meth:`wait`'s ``timeout``.
            labels: ``Labels`` or a dict, added to (or overriding) the launch plan's;
                checked as Kubernetes does.
            annotations: ``Annotations`` or a dict, the same way.
            raw_output_data_config: where its raw outputs go (a URI inside the server's
                blob store); by default the launch plan's.
            image_config: accepted for flytekit's sake (the cluster runs the code bundle).
            options: accepted for flytekit's sake.
            serialization_settings: accepted for flytekit's sake.
        """
        for flag, value in (("envs", envs), ("tags", tags), ("cluster_pool", cluster_pool),
                            ("interruptible", interruptible)):
            if value is not None:
                raise NotYetSupportedError(f"FlyteRemote.execute({flag}=...)")
        interface: PythonInterface | None = None
        if not isinstance(entity, (FlyteTask, FlyteWorkflow, FlyteLaunchPlan)):
            if entity_kind(entity) is None:
                raise InputValueError(f"execute takes a fetched or local task, workflow or "
                                      f"launch plan, got {entity!r}")
            if name is not None and name != entity.name:
                raise NotYetSupportedError("FlyteRemote.execute(name=...) renaming a local "
                                           "entity")
            owner = entity.workflow if isinstance(entity, LaunchPlan) else entity
            interface = owner.python_interface
            entity = self.register_script(entity, version=version, project=project,
                                          domain=domain)
        if type_hints:
            base = interface or full_interface(entity)
            interface = PythonInterface(
                {k: type_hints.get(k, t) for k, t in base.inputs.items()}, base.defaults,
                {k: type_hints.get(k, t) for k, t in base.outputs.items()}, base.output_tuple)
        if execution_name is None and execution_name_prefix:
            execution_name = f"{execution_name_prefix}-{uuid.uuid4().hex[:12]}"
        execution = self._launch(entity, inputs or {}, interface, execution_name,
                                 bool(overwrite_cache), _seconds(timeout), launch_fields(
                                     labels, annotations, raw_output_data_config,
                                     "FlyteRemote.execute"))
        return self.wait(execution, poll_interval=poll_interval) if wait else execution

    def _launch(self, entity: FlyteEntity, inputs: dict[str, Any],
                interface: PythonInterface | None, execution_name: str | None,
                overwrite_cache: bool, timeout_s: float | None,
                metadata: dict[str, Any]) -> FlyteWorkflowExecution:
        kind = "task" if isinstance(entity, FlyteTask) else "launch_plan"
        label = entity.id.resource_type.value.replace("_", " ")
        what = f"{label} '{entity.name}' version {entity.version}"
        fixed = frozenset(entity.fixed_inputs) if isinstance(entity, FlyteLaunchPlan) else \
            frozenset()
        checking = entity.python_interface
        if interface is not None:  # the local types, less what the launch plan fixes
            checking = PythonInterface(
                {k: t for k, t in interface.inputs.items() if k not in fixed},
                {**interface.defaults, **checking.defaults}, interface.outputs,
                interface.output_tuple)
        body: dict[str, Any] = {
            "project": entity.id.project, "domain": entity.id.domain,
            # A workflow runs as its default launch plan (same name and version), as in Flyte.
            kind: {"name": entity.name, "version": entity.version},
            "inputs": input_literals(inputs, checking, self.store, what, fixed),
            "overwrite_cache": overwrite_cache, **metadata}
        if execution_name:
            body["name"] = execution_name
        if timeout_s is not None:
            body["timeout"] = timeout_s
        return self._execution(self.client.post("/api/v1/executions", body).body, entity,
                               interface)

    def wait(self, execution: FlyteWorkflowExecution, timeout: Seconds | None = None,
             poll_interval: Seconds | None = None,
             sync_nodes: bool = True) -> FlyteWorkflowExecution:
        """Poll ``execution`` until it ends; it is synced in place and returned.

        Raises:
            WaitTimeoutError: ``timeout`` passed first (the execution runs on).
        """
        limit = _seconds(timeout)
        interval = _seconds(poll_interval) or _DEFAULT_POLL_S
        deadline = None if limit is None else time.monotonic() + limit
        while not self.sync(execution).is_done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeoutError(
                    f"execution {execution.id} is still {execution.closure.phase.value} after "
                    f"waiting {limit:g} s; it runs on: wait again with a longer timeout, or "
                    "stop it with FlyteRemote.terminate(execution, cause)")
            time.sleep(interval if left is None else min(interval, left))
        return self.sync(execution, sync_nodes=True) if sync_nodes else execution

    def sync(self, execution: FlyteWorkflowExecution, entity_definition: Any = None,
             sync_nodes: bool = False) -> FlyteWorkflowExecution:
        """Refresh ``execution`` in place from the admin API (and its node executions,
        with ``sync_nodes``); returns it."""
        path = execution.id.path
        execution._update(self.get(f"/api/v1/executions/{path_of(path)}",
                                   f"execution {path}"))
        if entity_definition is not None:
            execution.flyte_entity = entity_definition
        if sync_nodes:
            reply = self.get(f"/api/v1/node_executions/{path_of(path)}", f"execution {path}")
            reader = functools.partial(self._node_data, execution)
            nodes = [FlyteNodeExecution.of(n, execution.id, reader)
                     for n in reply["node_executions"]]
            execution.node_executions = {n.node_id: n for n in nodes}
        return execution

    # --- Control -----------------------------------------------------------------------

    def terminate(self, execution: ExecutionLike, cause: str) -> FlyteWorkflowExecution:
        """Stop an execution (an object, an id, or a name in the default project and
        domain): its running work is cancelled and it ends ABORTED with ``cause``.

        Returns:
            The execution, synced (``execution`` itself when it is one)."""
        ident = self._execution_id(execution)
        with self.about(f"execution {ident}"):
            reply = self.client.delete(f"/api/v1/executions/{path_of(ident.path)}",
                                       {"cause": cause})
        if isinstance(execution, FlyteWorkflowExecution):
            execution._update(reply)
            return execution
        return self._execution(reply)

    def relaunch(self, execution: ExecutionLike, name: str | None = None,
                 overwrite_cache: bool | None = None) -> FlyteWorkflowExecution:
        """Run an execution again: the same versions, the same inputs (as a new execution,
        named ``name`` or generated)."""
        return self._again("relaunch", execution, name, overwrite_cache)

    def recover(self, execution: ExecutionLike,
                name: str | None = None) -> FlyteWorkflowExecution:
        """Run an ended execution again, reusing the outputs of the nodes that succeeded
        (they are RECOVERED, not run) and running the others."""
        return self._again("recover", execution, name, None)

    def _again(self, verb: str, execution: ExecutionLike, name: str | None,
               overwrite_cache: bool | None) -> FlyteWorkflowExecution:
        ident = self._execution_id(execution)
        body: dict[str, Any] = {"id": {"project": ident.project, "domain": ident.domain,
                                       "name": ident.name}}
        if name:
            body["name"] = name
        if overwrite_cache is not None:
            body["overwrite_cache"] = overwrite_cache
        with self.about(f"execution {ident}"):
            reply = self.client.post(f"/api/v1/executions/{verb}", body).body
        if isinstance(execution, FlyteWorkflowExecution):  # the same entity runs again
            return self._execution(reply, execution.flyte_entity, execution.python_interface)
        return self._execution(reply)

    def activate_launchplan(self, ident: Identifier | FlyteLaunchPlan | str
                            ) -> FlyteLaunchPlan:
        """Make a launch plan version ACTIVE (its schedule fires), deactivating the name's
        other version; a name alone means its latest version."""
        return self._set_state(ident, "ACTIVE")

    def deactivate_launchplan(self, ident: Identifier | FlyteLaunchPlan | str
                              ) -> FlyteLaunchPlan:
        """Make a launch plan version INACTIVE."""
        return self._set_state(ident, "INACTIVE")

    def _set_state(self, ident: Identifier | FlyteLaunchPlan | str,
                   state: str) -> FlyteLaunchPlan:
        if isinstance(ident, str):
            ident = self.fetch_launch_plan(name=ident).id
        elif isinstance(ident, FlyteLaunchPlan):
            ident = ident.id
        path = f"{ident.project}/{ident.domain}/{ident.name}/{ident.version}"
        reply = self.client.put(f"/api/v1/launch_plans/{path_of(path)}", {"state": state})
        return self.launch_plan_of(reply)

    def generate_console_url(self, entity: Any) -> str:
        """The console page of an execution (or of a node's execution), or of a task,
        workflow or launch plan version."""
        base = (self.config.platform.console_endpoint or self.client.endpoint).rstrip("/")
        if isinstance(entity, FlyteNodeExecution):
            entity = entity.id.execution_id
        if isinstance(entity, FlyteWorkflowExecution):
            entity = entity.id
        if hasattr(entity, "name") and hasattr(entity, "project") and \
                not hasattr(entity, "version"):
            return (f"{base}/console/projects/{entity.project}/domains/{entity.domain}"
                    f"/executions/{entity.name}")
        ident = getattr(entity, "id", entity)
        if not isinstance(ident, Identifier):
            raise InputValueError(f"generate_console_url takes an execution or a fetched "
                                  f"task, workflow or launch plan, got {entity!r}")
        return (f"{base}/console/projects/{ident.project}/domains/{ident.domain}/"
                f"{ident.resource_type.value}/{ident.name}/version/{ident.version}")

    # --- Inside ------------------------------------------------------------------------

    def _execution_id(self, execution: ExecutionLike) -> WorkflowExecutionIdentifier:
        if isinstance(execution, FlyteWorkflowExecution):
            return execution.id
        if isinstance(execution, WorkflowExecutionIdentifier):
            return execution
        return WorkflowExecutionIdentifier(self.default_project, self.default_domain, execution)


__all__ = ["FlyteRemote"]
