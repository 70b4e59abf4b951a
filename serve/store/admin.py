"""The admin store: projects, registered entities and launch plans in one SQL database.

The control plane's narrow interface to its persistence: every method is one short
transaction, takes and returns plain data (``serve.store.records``, the engine's spec
objects, JSON), and raises the errors of ``serve.errors``. Executions and schedules add
their tables and data functions next to these (``serve.store.executions``,
``serve.store.schedules``) and share ``database``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType, TaskSpec, WorkflowSpec
from serve.errors import InvalidArgumentError
from serve.store import _entities, _launch_plans, _projects, _registration
from serve.store._db import Database
from serve.store._migrations import MIGRATIONS
from serve.store._models import ProjectRow
from serve.store.executions import ExecutionMethods
from serve.store.identifiers import resource_type
from serve.store.records import (
    DEFAULT_DOMAINS,
    Domain,
    Entity,
    LaunchPlanEntity,
    LaunchPlanState,
    ListOptions,
    NamedEntity,
    Page,
    Project,
)
from serve.store.schedules import ScheduleMethods
from serve.store.specs import parse_launch_plan_spec, parse_task_spec, parse_workflow_spec


class AdminStore(ExecutionMethods, ScheduleMethods):
    """Opens (and migrates) the admin database at ``url``: any SQLAlchemy URL, e.g.
    ``sqlite:////home/me/.flyray/admin.db`` or ``postgresql+psycopg://u:pw@host/db``.

    Executions, node executions and their drivers' leases: see ``ExecutionMethods``;
    schedules and the scheduler's lease: see ``ScheduleMethods``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = Database(url)
        try:
            self.schema_version = self.database.migrate(MIGRATIONS)
        except BaseException:
            self.database.close()
            raise

    def close(self) -> None:
        self.database.close()

    def ping(self) -> None:
        """Raise StoreError unless the database answers."""
        self.database.run(lambda s: s.execute(text("SELECT 1")), write=False)

    # --- projects ----------------------------------------------------------------------

    def create_project(self, project: Project) -> tuple[Project, bool]:
        """Store ``project``; returns it and whether it is new (an identical one is kept)."""
        return self.database.run(lambda s: _projects.create_project(s, project), write=True)

    def ensure_project(self, project_id: str, domains: tuple[str, ...] = ()) -> Project:
        """The project, created with the default domains (and ``domains``) if missing."""
        names = tuple(dict.fromkeys([*DEFAULT_DOMAINS, *domains]))
        project = Project(project_id, project_id, "", tuple(Domain(d, d) for d in names))

        def ensure(s: Any) -> Project:
            if s.get(ProjectRow, project_id) is None:
                return _projects.create_project(s, project)[0]
            return _projects.get_project(s, project_id)

        return self.database.run(ensure, write=True)

    def get_project(self, project_id: str) -> Project:
        return self.database.run(lambda s: _projects.get_project(s, project_id), write=False)

    def list_projects(self, options: ListOptions) -> Page[Project]:
        return self.database.run(lambda s: _projects.list_projects(s, options), write=False)

    # --- registration ------------------------------------------------------------------

    def register_task(self, spec: dict[str, Any] | TaskSpec,
                      code_uri: str | None = None) -> tuple[Entity, bool]:
        """Register a task spec (its JSON form or the object); returns the entity and
        whether it is new. Re-registering an identical spec is a no-op."""
        task = parse_task_spec(spec.to_dict() if isinstance(spec, TaskSpec) else spec)
        _entities.check_code_uri(code_uri)
        return self.database.run(
            lambda s: _registration.register_task(s, task, code_uri), write=True)

    def register_workflow(self, spec: dict[str, Any] | WorkflowSpec,
                          code_uri: str | None = None) -> tuple[Entity, bool]:
        """Register a workflow whose tasks are registered, with its default launch plan."""
        workflow = parse_workflow_spec(spec.to_dict() if isinstance(spec, WorkflowSpec)
                                       else spec)
        _entities.check_code_uri(code_uri)
        return self.database.run(
            lambda s: _registration.register_workflow(s, workflow, code_uri), write=True)

    def register_launch_plan(self, spec: dict[str, Any] | LaunchPlanSpec,
                             code_uri: str | None = None) -> tuple[LaunchPlanEntity, bool]:
        """Register a launch plan version of a registered workflow (INACTIVE)."""
        plan = parse_launch_plan_spec(spec.to_dict() if isinstance(spec, LaunchPlanSpec)
                                      else spec)
        _entities.check_code_uri(code_uri)
        return self.database.run(
            lambda s: _launch_plans.register(s, plan, code_uri), write=True)

    # --- reads -------------------------------------------------------------------------

    def get(self, ident: Identifier) -> Entity:
        """The registered entity (a LaunchPlanEntity for launch plans); NotFoundError if
        it is not registered."""
        return self.database.run(
            lambda s: _entities.entity_of(_entities.get_row(s, ident)), write=False)

    def list_entities(self, kind: ResourceType | str, project: str, domain: str,
             options: ListOptions | None = None) -> Page[Entity]:
        """Registered versions of every name (``options.name``: of one name)."""
        kind = resource_type(kind)
        return self.database.run(lambda s: _entities.list_entities(
            s, kind, project, domain, options or ListOptions()), write=False)

    def list_names(self, kind: ResourceType | str, project: str, domain: str,
                   options: ListOptions | None = None) -> Page[NamedEntity]:
        kind = resource_type(kind)
        return self.database.run(lambda s: _entities.list_names(
            s, kind, project, domain, options or ListOptions()), write=False)

    # --- launch plans ------------------------------------------------------------------

    def set_launch_plan_state(self, ident: Identifier,
                              state: LaunchPlanState | str) -> LaunchPlanEntity:
        """Activate (deactivating the name's other versions) or deactivate a version."""
        try:
            wanted = LaunchPlanState(state)
        except ValueError:
            raise InvalidArgumentError(f"launch plan state must be ACTIVE or INACTIVE, got "
                                       f"{state!r}") from None
        return self.database.run(lambda s: _launch_plans.set_state(s, ident, wanted),
                                 write=True)

    def active_launch_plans(self, project: str, domain: str,
                            options: ListOptions | None = None) -> Page[Entity]:
        return self.database.run(lambda s: _entities.list_entities(
            s, ResourceType.LAUNCH_PLAN, project, domain, options or ListOptions(),
            active_only=True), write=False)

    def active_launch_plan(self, project: str, domain: str, name: str) -> LaunchPlanEntity:
        """The active version of a launch plan name; NotFoundError when none is active."""
        return self.database.run(
            lambda s: _launch_plans.get_active(s, project, domain, name), write=False)

    def resolve_launch_inputs(self, ident: Identifier, inputs: Any) -> dict[str, Any]:
        """The inputs an execution of launch plan ``ident`` runs with, given ``inputs``
        (input name -> JSON literal): workflow defaults, then the plan's defaults, then
        ``inputs``, then the plan's fixed inputs. InvalidArgumentError names a fixed input
        that is given, an unknown input, a value of the wrong type, or a missing input."""
        return self.database.run(lambda s: _launch_plans.launch_inputs(s, ident, inputs),
                                 write=False)
