"""Registering tasks and workflows: the checks that need the database, then the insert."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from engine.dag.spec import ResourceType, TaskSpec, WorkflowSpec, default_launch_plan
from serve.errors import ConflictError, InvalidArgumentError
from serve.store import _entities, _launch_plans
from serve.store._models import WorkflowRow
from serve.store._projects import require_domain
from serve.store.diff import json_diff
from serve.store.identifiers import describe
from serve.store.records import Entity


def register_task(s: Session, spec: TaskSpec, code_uri: str | None) -> tuple[Entity, bool]:
    require_domain(s, spec.id.project, spec.id.domain, registering=True)
    row, created = _entities.register(s, spec.id, spec.to_dict(), code_uri)
    return _entities.entity_of(row), created


def register_workflow(s: Session, spec: WorkflowSpec,
                      code_uri: str | None) -> tuple[Entity, bool]:
    """Store a workflow whose every referenced entity is registered, and its default
    launch plan (same name and version), in one transaction."""
    require_domain(s, spec.id.project, spec.id.domain, registering=True)
    _check_references(s, spec)
    row, created = _entities.register(s, spec.id, spec.to_dict(), code_uri)
    assert isinstance(row, WorkflowRow)
    plan = default_launch_plan(spec)
    try:
        _launch_plans.register(s, plan, code_uri, default_of=row)
    except ConflictError as e:
        raise ConflictError(f"cannot create the default launch plan of {describe(spec.id)}: "
                            f"{e}", e.paths) from None
    return _entities.entity_of(row), created


def _check_references(s: Session, spec: WorkflowSpec) -> None:
    """Every task (and launch plan, sub-workflow) the workflow calls is registered in the
    workflow's project and domain at exactly the version it was compiled with, and a
    task's registered spec is the one the workflow was compiled against."""
    where = describe(spec.id)
    for key, used in spec.tasks.items():
        if used.reference is not None:
            if _entities.find_row(s, used.reference) is None:
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
        row = _entities.find_row(s, ref)
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
