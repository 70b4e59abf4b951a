"""Projects and their domains: the data functions behind the store's project methods.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name.
A project is stored once with its domains in declaration order and never changes:
creating it again with the same content finds it, with other content is a conflict.
``require_domain`` is the check every other resource makes before it reads or writes
under a project and domain.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dag.spec.diff import json_diff
from serve.errors import ConflictError, InvalidArgumentError, NotFoundError
from serve.store import _paging
from serve.store._models import DomainRow, ProjectRow
from serve.store.database import aware, now
from serve.store.identifiers import check_part
from serve.store.records import DEFAULT_DOMAINS, Domain, ListOptions, Page, Project, SortKey

_MAX_DESCRIPTION = 10_000


def check_project(project: Project) -> None:
    """Raise InvalidArgumentError unless ``project`` may be stored."""
    check_part("project", project.id)
    for what, value, longest in (("name", project.name, 255),
                                 ("description", project.description, _MAX_DESCRIPTION)):
        if not isinstance(value, str) or len(value) > longest or "\x00" in value:
            raise InvalidArgumentError(f"project {what} must be text of at most {longest} "
                                       "characters without NUL")
    if not project.name.strip():
        raise InvalidArgumentError("project name must not be empty")
    if not project.domains:
        raise InvalidArgumentError(f"project '{project.id}' needs at least one domain")
    seen: set[str] = set()
    for domain in project.domains:
        check_part("domain", domain.id)
        if domain.id in seen:
            raise InvalidArgumentError(f"project '{project.id}' lists domain '{domain.id}' "
                                       "twice")
        seen.add(domain.id)
        if not isinstance(domain.name, str) or not 0 < len(domain.name) <= 255 or (
                "\x00" in domain.name):
            raise InvalidArgumentError(f"domain '{domain.id}' needs a name of 1-255 characters")


def _as_document(project: Project) -> dict[str, object]:
    return {"id": project.id, "name": project.name, "description": project.description,
            "domains": [{"id": d.id, "name": d.name} for d in project.domains]}


def _record(s: Session, row: ProjectRow) -> Project:
    domains = s.scalars(select(DomainRow).where(DomainRow.project == row.id)
                        .order_by(DomainRow.position)).all()
    return Project(row.id, row.name, row.description,
                   tuple(Domain(d.id, d.name) for d in domains), aware(row.created_at))


def get_project(s: Session, project_id: str) -> Project:
    """The project; NotFoundError names the projects there are."""
    check_part("project", project_id)
    row = s.get(ProjectRow, project_id)
    if row is None:
        raise NotFoundError(_unknown_project(s, project_id))
    return _record(s, row)


def create_project(s: Session, project: Project) -> tuple[Project, bool]:
    """Store ``project``; returns it and whether it is new (an identical one already
    stored is returned as it is; one with other content is a ConflictError)."""
    check_project(project)
    row = s.get(ProjectRow, project.id)
    if row is not None:
        stored = _record(s, row)
        paths = json_diff(_as_document(stored), _as_document(project))
        if paths:
            raise ConflictError(f"project '{project.id}' exists with another "
                                f"{', '.join(paths)}", paths)
        return stored, False
    s.add(ProjectRow(id=project.id, name=project.name, description=project.description,
                     created_at=now()))
    s.flush()
    s.add_all([DomainRow(project=project.id, id=d.id, name=d.name, position=i)
               for i, d in enumerate(project.domains)])
    s.flush()
    return get_project(s, project.id), True


def ensure_project(s: Session, project_id: str, domains: tuple[str, ...] = ()) -> Project:
    """The project, created with the default domains (and ``domains``) if missing."""
    if s.get(ProjectRow, project_id) is not None:
        return get_project(s, project_id)
    names = tuple(dict.fromkeys([*DEFAULT_DOMAINS, *domains]))
    return create_project(s, Project(project_id, project_id, "",
                                     tuple(Domain(d, d) for d in names)))[0]


def list_projects(s: Session, options: ListOptions) -> Page[Project]:
    """Projects, by name unless ``options`` sort them by creation."""
    options = _paging.checked(options, (SortKey.NAME, SortKey.CREATED_AT), _paging.BY_NAME)
    by_name = _paging.order(options)[0] is SortKey.NAME
    column = ProjectRow.name if by_name else ProjectRow.created_at
    query = select(ProjectRow)
    if options.name is not None:
        query = query.where(ProjectRow.name == options.name)
    if options.name_contains is not None:
        query = query.where(ProjectRow.name.contains(options.name_contains, autoescape=True))
    rows = s.scalars(_paging.keyset(query, options, column, ProjectRow.id)).all()
    kept, token = _paging.page(rows, options, lambda r: (getattr(r, column.key), r.id))
    return Page([_record(s, r) for r in kept], token)


def require_domain(s: Session, project: str, domain: str, *, registering: bool) -> None:
    """Raise unless ``domain`` is a domain of ``project``.

    While registering, the project and domain are part of the request's body: a missing
    one is an invalid argument (400); in a path it is a missing resource (404).
    """
    check_part("project", project)
    check_part("domain", domain)
    error = InvalidArgumentError if registering else NotFoundError
    if s.get(ProjectRow, project) is None:
        raise error(_unknown_project(s, project))
    if s.get(DomainRow, (project, domain)) is None:
        known = s.scalars(select(DomainRow.id).where(DomainRow.project == project)
                          .order_by(DomainRow.position)).all()
        raise error(f"project '{project}' has no domain '{domain}'; its domains are "
                    f"{', '.join(known)}")


def _unknown_project(s: Session, project: str) -> str:
    known = s.scalars(select(ProjectRow.id).order_by(ProjectRow.id).limit(20)).all()
    return (f"project '{project}' does not exist (projects: {', '.join(known) or 'none'}); "
            "create it first (POST /api/v1/projects)")
