"""The admin store: the control plane's one interface to its SQL database.

``AdminStore`` is assembled from the resource modules of ``serve.store``: each method is
a data function of one of them (taking a session first, same name, same arguments),
bound by ``read_only`` or ``read_write`` (``serve.store.database``) to run as one short
transaction, retried when the database asks for it. Registration is written out: it
parses and checks the spec first, outside the transaction. Methods take and return plain data
(``serve.store.records``, ``execution_records``, ``schedule_records``, the engine's spec
objects, JSON) and raise the errors of ``serve.errors``; ORM rows never leave the store.
"""

from __future__ import annotations

from typing import Any

from engine.dag.spec import LaunchPlanSpec, TaskSpec, WorkflowSpec
from serve.store import (
    changes,
    drivers,
    entities,
    execution_views,
    executions,
    executors,
    launch_plans,
    node_executions,
    notifications,
    projects,
    schedules,
    signals,
    summaries,
)
from serve.store._migrations import MIGRATIONS
from serve.store.database import Database, read_only, read_write, select_one
from serve.store.records import Entity, LaunchPlanEntity
from serve.store.specs import parse_launch_plan_spec, parse_task_spec, parse_workflow_spec


class AdminStore:
    """Opens (and migrates) the admin database at ``url``: any SQLAlchemy URL, e.g.
    ``sqlite:////home/me/.flyray/admin.db`` or ``postgresql+psycopg://u:pw@host/db``.

    Every method's documentation is its data function's, in the module named above it.
    """

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

    ping = read_only(select_one)

    # Projects and their domains (serve.store.projects).
    create_project = read_write(projects.create_project)
    ensure_project = read_write(projects.ensure_project)
    get_project = read_only(projects.get_project)
    list_projects = read_only(projects.list_projects)

    # Tasks and workflows, and the reads of every registered entity (serve.store.entities).
    # Registration parses and checks the spec (a workflow's may be large) before its
    # write transaction, so the database is locked only for the queries.
    def register_task(self, spec: dict[str, Any] | TaskSpec,
                      code_uri: str | None = None) -> tuple[Entity, bool]:
        """Register a task spec (its JSON form or the object); see
        ``serve.store.entities.register_task``."""
        task = parse_task_spec(spec.to_dict() if isinstance(spec, TaskSpec) else spec)
        entities.check_code_uri(code_uri)
        return self.database.run(lambda s: entities.register_task(s, task, code_uri),
                                 write=True)

    def register_workflow(self, spec: dict[str, Any] | WorkflowSpec,
                          code_uri: str | None = None) -> tuple[Entity, bool]:
        """Register a workflow spec (its JSON form or the object) with its default launch
        plan; see ``serve.store.entities.register_workflow``."""
        workflow = parse_workflow_spec(spec.to_dict() if isinstance(spec, WorkflowSpec)
                                       else spec)
        entities.check_code_uri(code_uri)
        return self.database.run(
            lambda s: entities.register_workflow(s, workflow, code_uri), write=True)

    get = read_only(entities.get)
    list_entities = read_only(entities.list_entities)
    list_names = read_only(entities.list_names)

    # Launch plans (serve.store.launch_plans).
    def register_launch_plan(self, spec: dict[str, Any] | LaunchPlanSpec,
                             code_uri: str | None = None) -> tuple[LaunchPlanEntity, bool]:
        """Register a launch plan spec (its JSON form or the object), INACTIVE; see
        ``serve.store.launch_plans.register_launch_plan``."""
        plan = parse_launch_plan_spec(spec.to_dict() if isinstance(spec, LaunchPlanSpec)
                                      else spec)
        entities.check_code_uri(code_uri)
        return self.database.run(
            lambda s: launch_plans.register_launch_plan(s, plan, code_uri), write=True)

    set_launch_plan_state = read_write(launch_plans.set_launch_plan_state)
    active_launch_plans = read_only(launch_plans.active_launch_plans)
    active_launch_plan = read_only(launch_plans.active_launch_plan)
    resolve_launch_inputs = read_only(launch_plans.resolve_launch_inputs)

    # Executions, for the API and the supervisor (serve.store.executions).
    create_execution = read_write(executions.create_execution)
    relaunch_execution = read_write(executions.relaunch_execution)
    recover_execution = read_write(executions.recover_execution)
    get_execution = read_only(executions.get_execution)
    list_executions = read_only(executions.list_executions)
    terminate_execution = read_write(executions.terminate_execution)
    force_abort = read_write(executions.force_abort)
    dispatch_waiting = read_write(executions.dispatch_waiting)
    executions_waiting = read_only(executions.executions_waiting)

    # Summaries for the console's pages (serve.store.summaries).
    execution_counts = read_only(summaries.execution_counts)
    latest_versions = read_only(summaries.latest_versions)
    workflow_launch_plans = read_only(summaries.workflow_launch_plans)

    # Node executions: the driver's events, and reads (serve.store.node_executions).
    record_events = read_write(node_executions.record_events)
    list_node_executions = read_only(node_executions.list_node_executions)
    get_node_execution = read_only(node_executions.get_node_execution)

    # Reads of one execution for the console's views (serve.store.execution_views).
    node_page = read_only(execution_views.node_page)
    child_page = read_only(execution_views.child_page)
    attempt_times = read_only(execution_views.attempt_times)
    failed_node = read_only(execution_views.failed_node)
    children_counts = read_only(execution_views.children_counts)
    node_states = read_only(execution_views.node_states)

    # Their change feed, for live views (serve.store.changes).
    execution_changes = read_only(changes.execution_changes)

    # Drivers: their claims and heartbeats, and the supervisor's view (serve.store.drivers).
    claim_driver = read_write(drivers.claim_driver)
    heartbeat = read_write(drivers.heartbeat)
    finish_execution = read_write(drivers.finish_execution)
    release_driver = read_write(drivers.release_driver)
    driver_leases = read_only(drivers.driver_leases)
    restart_driver = read_write(drivers.restart_driver)

    # Executors' reports of themselves (serve.store.executors).
    report_executor = read_write(executors.report_executor)
    remove_executor = read_write(executors.remove_executor)
    list_executors = read_only(executors.list_executors)
    prune_executors = read_write(executors.prune_executors)

    # Notifications of ended executions: the notifier's outbox (serve.store.notifications).
    notifications_due = read_only(notifications.notifications_due)
    claim_notifications = read_write(notifications.claim_notifications)
    record_attempt = read_write(notifications.record_attempt)
    list_notifications = read_only(notifications.list_notifications)

    # Gates' signals: set through the API, waited for by drivers (serve.store.signals).
    list_signals = read_only(signals.list_signals)
    set_signal = read_write(signals.set_signal)
    begin_wait = read_write(signals.begin_wait)
    signal_value = read_only(signals.signal_value)

    # Schedules and the scheduler's leader lease (serve.store.schedules).
    scheduled_plans = read_only(schedules.scheduled_plans)
    list_schedules = read_only(schedules.list_schedules)
    fire_schedule = read_write(schedules.fire_schedule)
    fire_schedules = read_write(schedules.fire_schedules)
    resign_scheduler = read_write(schedules.resign_scheduler)

    def lead_scheduler(self, holder: str, lease_s: float) -> bool:
        """Take or renew the scheduler's leader lease for ``holder``; False while another
        scheduler holds it. Two transactions (a read, then a write only when the lease
        must be taken or renewed): see ``serve.store.schedules.lead_scheduler``."""
        return schedules.lead_scheduler(self.database, holder, lease_s)
