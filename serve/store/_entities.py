"""Registered tasks, workflows and launch plans: data functions over a session.

One table per resource type with the same columns; these functions work on any of
them. Registration inserts, or finds the identical entity already there.
"""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dag.spec import Identifier, ResourceType
from serve.errors import ConflictError, InvalidArgumentError, NotFoundError
from serve.store import _paging
from serve.store._models import LaunchPlanRow, TaskRow, WorkflowRow, _EntityColumns
from serve.store._projects import aware, now, require_domain
from serve.store.diff import json_diff
from serve.store.identifiers import check_identifier, check_part, describe
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


def find_row(s: Session, ident: Identifier, *, lock: bool = False) -> AnyRow | None:
    table = ROWS[ident.resource_type]
    query = select(table).where(table.project == ident.project, table.domain == ident.domain,
                                table.name == ident.name, table.version == ident.version)
    return cast("AnyRow | None", s.scalar(query.with_for_update() if lock else query))


def identifier_of(row: AnyRow) -> Identifier:
    kind = next(k for k, t in ROWS.items() if isinstance(row, t))
    return Identifier(kind, row.project, row.domain, row.name, row.version)


def entity_of(row: AnyRow) -> Entity:
    ident = identifier_of(row)
    spec = json.loads(row.spec)
    if isinstance(row, LaunchPlanRow):
        return LaunchPlanEntity(ident, spec, aware(row.created_at), row.code_uri,
                                LaunchPlanState(row.state), aware(row.state_updated_at))
    return Entity(ident, spec, aware(row.created_at), row.code_uri)


def get_row(s: Session, ident: Identifier, *, lock: bool = False) -> AnyRow:
    check_identifier(ident)
    row = find_row(s, ident, lock=lock)
    if row is None:
        require_domain(s, ident.project, ident.domain, registering=False)
        raise NotFoundError(f"{describe(ident)} is not registered")
    return row


def check_code_uri(code_uri: str | None) -> None:
    if code_uri is None:
        return
    if not isinstance(code_uri, str) or "://" not in code_uri or len(code_uri) > _MAX_CODE_URI \
            or any(c.isspace() or c == "\x00" for c in code_uri):
        raise InvalidArgumentError(f"code_uri must be a URI such as s3://bucket/code.zip or "
                                   f"file:///path/code.zip, got {str(code_uri)[:80]!r}")


def register(s: Session, ident: Identifier, spec: dict[str, Any], code_uri: str | None,
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


def list_entities(s: Session, kind: ResourceType, project: str, domain: str,
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


def list_names(s: Session, kind: ResourceType, project: str, domain: str,
               options: ListOptions) -> Page[NamedEntity]:
    """The distinct names registered in a project and domain (sorted by name)."""
    options = _paging.checked(options, (SortKey.NAME,), _paging.BY_NAME)
    require_domain(s, project, domain, registering=False)
    table = ROWS[kind]
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
