"""Registered tasks, workflows and launch plans: their rows, the registration of tasks and
workflows, and the reads of any of them.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name
(``get``, ``list_entities``, ``list_names``, ``register_task``, ``register_workflow``).
The rest are the row helpers that launch plans and executions share.

One table per resource type, with the same columns; the row helpers work on any of
them. Registered entities are immutable: registering one inserts it, or finds the
identical one already there (and says it is not new); other content under the same
identifier is a conflict. A workflow is registered with its default launch plan (same
name and version) in one transaction.
"""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dag.spec import (
    Identifier,
    LaunchPlanSpec,
    ResourceType,
    TaskSpec,
    WorkflowSpec,
    default_launch_plan,
)
from engine.dag.spec.diff import json_diff
from serve.errors import ConflictError, InvalidArgumentError, NotFoundError
from serve.store import _paging
from serve.store._models import LaunchPlanRow, TaskRow, WorkflowRow, _EntityColumns
from serve.store.database import aware, now
from serve.store.identifiers import check_identifier, check_part, describe, resource_type
from serve.store.projects import require_domain
from serve.store.records import (
    Entity,
    LaunchPlanEntity,
    LaunchPlanState,
    ListOptions,
    NamedEntity,
    Page,
    SortKey,
)
from serve.store.specs import canonical_json

AnyRow = TaskRow | WorkflowRow | LaunchPlanRow
ROWS: dict[ResourceType, type[AnyRow]] = {
    ResourceType.TASK: TaskRow,
    ResourceType.WORKFLOW: WorkflowRow,
    ResourceType.LAUNCH_PLAN: LaunchPlanRow,
}
_MAX_CODE_URI = 4096


# --- rows ------------------------------------------------------------------------------


def find_row(s: Session, ident: Identifier, *, lock: bool = False) -> AnyRow | None:
    table = ROWS[ident.resource_type]
    query = select(table).where(table.project == ident.project, table.domain == ident.domain,
                                table.name == ident.name, table.version == ident.version)
    return cast("AnyRow | None", s.scalar(query.with_for_update() if lock else query))


def get_row(s: Session, ident: Identifier, *, lock: bool = False) -> AnyRow:
    """The entity's row; NotFoundError (naming a missing project or domain first) when
    it is not registered."""
    check_identifier(ident)
    row = find_row(s, ident, lock=lock)
    if row is None:
        require_domain(s, ident.project, ident.domain, registering=False)
        raise NotFoundError(f"{describe(ident)} is not registered")
    return row


def identifier_of(row: AnyRow) -> Identifier:
    kind = next(k for k, t in ROWS.items() if isinstance(row, t))
    return Identifier(kind, row.project, row.domain, row.name, row.version)


def entity_of(row: AnyRow) -> Entity:
    if isinstance(row, LaunchPlanRow):
        return launch_plan_of(row)
    return Entity(identifier_of(row), json.loads(row.spec), aware(row.created_at),
                  row.code_uri)


def launch_plan_of(row: LaunchPlanRow) -> LaunchPlanEntity:
    return LaunchPlanEntity(identifier_of(row), json.loads(row.spec), aware(row.created_at),
                            row.code_uri, LaunchPlanState(row.state),
                            aware(row.state_updated_at))


def check_code_uri(code_uri: str | None) -> None:
    if code_uri is None:
        return
    if not isinstance(code_uri, str) or "://" not in code_uri or len(code_uri) > _MAX_CODE_URI \
            or any(c.isspace() or c == "\x00" for c in code_uri):
        raise InvalidArgumentError(f"code_uri must be a URI such as s3://bucket/code.zip or "
                                   f"file:///path/code.zip, got {str(code_uri)[:80]!r}")


def register_row(s: Session, ident: Identifier, spec: dict[str, Any], code_uri: str | None,
                 **columns: Any) -> tuple[AnyRow, bool]:
    """Insert the entity, or return the identical one registered before (and False).

    Raises ConflictError when ``ident`` is registered with another spec or code.
    """
    text = canonical_json(spec)
    existing = find_row(s, ident, lock=True)
    if existing is None:
        row = ROWS[ident.resource_type](
            project=ident.project, domain=ident.domain, name=ident.name, version=ident.version,
            spec=text, code_uri=code_uri, created_at=now(), **columns)
        s.add(row)
        s.flush()
        return row, True
    if existing.spec != text:
        paths = json_diff(json.loads(existing.spec), spec)
        raise ConflictError(
            f"{describe(ident)} is already registered with a different spec (it differs at "
            f"{', '.join(paths) or 'its text'}); registered entities are immutable: register "
            "the changed spec under a new version", paths)
    if code_uri is not None and existing.code_uri not in (None, code_uri):
        raise ConflictError(f"{describe(ident)} is already registered with its code at "
                            f"{existing.code_uri}, not {code_uri}", ["code_uri"])
    if code_uri is not None and existing.code_uri is None:
        existing.code_uri = code_uri
    return existing, False


def register_launch_plan_row(s: Session, plan: LaunchPlanSpec, code_uri: str | None,
                             workflow: WorkflowRow) -> tuple[LaunchPlanEntity, bool]:
    """Store a launch plan version of ``workflow``, INACTIVE; the caller has checked it
    against the workflow."""
    schedule = canonical_json(plan.schedule.to_dict()) if plan.schedule is not None else None
    row, created = register_row(
        s, plan.id, plan.to_dict(), code_uri, workflow_pk=workflow.pk,
        state=LaunchPlanState.INACTIVE.value, state_updated_at=now(), schedule=schedule,
        max_parallel_executions=plan.max_parallel_executions)
    assert isinstance(row, LaunchPlanRow)  # plan.id names a launch plan
    return launch_plan_of(row), created


# --- tasks and workflows ---------------------------------------------------------------


def register_task(s: Session, task: TaskSpec,
                  code_uri: str | None = None) -> tuple[Entity, bool]:
    """Register a parsed task spec (``AdminStore.register_task`` parses the JSON and
    checks ``code_uri`` before the transaction); returns the entity and whether it is
    new. Re-registering an identical spec is a no-op."""
    require_domain(s, task.id.project, task.id.domain, registering=True)
    row, created = register_row(s, task.id, task.to_dict(), code_uri)
    return entity_of(row), created


def register_workflow(s: Session, workflow: WorkflowSpec,
                      code_uri: str | None = None) -> tuple[Entity, bool]:
    """Register a parsed workflow spec whose every referenced entity is registered, with
    its default launch plan (same name and version)."""
    require_domain(s, workflow.id.project, workflow.id.domain, registering=True)
    _check_references(s, workflow)
    row, created = register_row(s, workflow.id, workflow.to_dict(), code_uri)
    assert isinstance(row, WorkflowRow)  # workflow.id names a workflow
    try:
        register_launch_plan_row(s, default_launch_plan(workflow), code_uri, row)
    except ConflictError as e:
        raise ConflictError(f"cannot create the default launch plan of "
                            f"{describe(workflow.id)}: {e}", e.paths) from None
    return entity_of(row), created


def _check_references(s: Session, spec: WorkflowSpec) -> None:
    """Every task (and launch plan, sub-workflow) the workflow calls is registered in the
    workflow's project and domain at exactly the version it was compiled with, and a
    task's registered spec is the one the workflow was compiled against."""
    where = describe(spec.id)
    for key, used in spec.tasks.items():
        if used.reference is not None:
            if find_row(s, used.reference) is None:
                kind = used.reference.resource_type.value.replace("_", " ")
                raise InvalidArgumentError(
                    f"{where} refers to {describe(used.reference)} (node task '{key}', a "
                    f"reference {kind}), which is not registered; register it first, or "
                    "fix the project, domain, name or version of the reference")
            continue  # the stub is code of the workflow's bundle, not a registered task
        ref = used.id
        if (ref.project, ref.domain) != (spec.id.project, spec.id.domain):
            raise InvalidArgumentError(
                f"{where} uses {describe(ref)} from another project or domain; a workflow "
                f"calls entities of its own ({spec.id.project}/{spec.id.domain})")
        row = find_row(s, ref)
        if row is None:
            raise InvalidArgumentError(
                f"{where} uses {describe(ref)} (node task '{key}'), which is not registered; "
                f"register the {ref.resource_type.value.replace('_', ' ')} first")
        if ref.resource_type is ResourceType.TASK:
            paths = json_diff(json.loads(row.spec), used.to_dict())
            if paths:
                raise InvalidArgumentError(
                    f"{where} was compiled against another {describe(ref)} than the one "
                    f"registered (they differ at {', '.join(paths)}); recompile the workflow "
                    "or register the task under a new version")


# --- reads -----------------------------------------------------------------------------


def get(s: Session, ident: Identifier) -> Entity:
    """The registered entity (a LaunchPlanEntity for launch plans); NotFoundError if it
    is not registered."""
    return entity_of(get_row(s, ident))


def list_entities(s: Session, kind: ResourceType | str, project: str, domain: str,
                  options: ListOptions | None = None) -> Page[Entity]:
    """Registered versions of every name (``options.name``: of one name), newest first
    unless ``options`` sort them otherwise."""
    return list_versions(s, resource_type(kind), project, domain, options or ListOptions())


def list_versions(s: Session, kind: ResourceType, project: str, domain: str,
                  options: ListOptions, *, active_only: bool = False) -> Page[Entity]:
    """Registered versions in a project and domain; ``active_only``: launch plans only."""
    options = _paging.checked(options, tuple(SortKey), _paging.NEWEST_FIRST)
    require_domain(s, project, domain, registering=False)
    table = ROWS[kind]
    column = {SortKey.NAME: table.name, SortKey.VERSION: table.version,
              SortKey.CREATED_AT: table.created_at}[_paging.order(options)[0]]
    query = _filtered(select(table), table, project, domain, options)
    if active_only:
        query = query.where(LaunchPlanRow.state == LaunchPlanState.ACTIVE.value)
    rows = s.scalars(_paging.keyset(query, options, column, table.pk)).all()
    kept, token = _paging.page(rows, options, lambda r: (getattr(r, column.key), r.pk))
    return Page([entity_of(r) for r in kept], token)


def list_names(s: Session, kind: ResourceType | str, project: str, domain: str,
               options: ListOptions | None = None) -> Page[NamedEntity]:
    """The distinct names registered in a project and domain (sorted by name)."""
    table = ROWS[resource_type(kind)]
    options = _paging.checked(options or ListOptions(), (SortKey.NAME,), _paging.BY_NAME)
    require_domain(s, project, domain, registering=False)
    query = _filtered(select(table.name), table, project, domain, options).group_by(table.name)
    names = s.scalars(_paging.keyset(query, options, table.name, None)).all()
    kept, token = _paging.page(names, options, lambda n: (n, None))
    return Page([NamedEntity(project, domain, n) for n in kept], token)


def _filtered(query: Any, table: type[_EntityColumns], project: str, domain: str,
              options: ListOptions) -> Any:
    query = query.where(table.project == project, table.domain == domain)
    if options.name is not None:
        check_part("name", options.name)
        query = query.where(table.name == options.name)
    if options.name_contains is not None:
        query = query.where(table.name.contains(options.name_contains, autoescape=True))
    return query
