"""Launch plans: registration against their workflow, activation, and the inputs of a launch.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds them as ``AdminStore`` methods of the same name. Their rows
are registered entities (``serve.store.entities``) with an activation state: at most one
version of a name is ACTIVE, which the database's partial unique index guarantees under
concurrency. A version is registered INACTIVE.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType, WorkflowSpec
from serve.errors import InvalidArgumentError, NotFoundError
from serve.store import entities
from serve.store._models import LaunchPlanRow, WorkflowRow
from serve.store.database import now
from serve.store.identifiers import check_identifier, check_part, describe
from serve.store.inputs import resolve_launch_plan_inputs
from serve.store.projects import require_domain
from serve.store.records import Entity, LaunchPlanEntity, LaunchPlanState, ListOptions, Page
from serve.store.specs import check_against_workflow


def register_launch_plan(s: Session, plan: LaunchPlanSpec,
                         code_uri: str | None = None) -> tuple[LaunchPlanEntity, bool]:
    """Register a parsed launch plan version of a registered workflow (INACTIVE); returns
    it and whether it is new."""
    require_domain(s, plan.id.project, plan.id.domain, registering=True)
    workflow, workflow_spec = _workflow_of(s, plan)
    check_against_workflow(plan, workflow_spec)
    return entities.register_launch_plan_row(s, plan, code_uri, workflow)


def _workflow_of(s: Session, plan: LaunchPlanSpec) -> tuple[WorkflowRow, WorkflowSpec]:
    """The row and spec of the plan's workflow; InvalidArgumentError if unregistered."""
    row = entities.find_row(s, plan.workflow_id)
    if row is None:
        raise InvalidArgumentError(
            f"launch plan {describe(plan.id)} is for {describe(plan.workflow_id)}, which is "
            "not registered; register the workflow first")
    assert isinstance(row, WorkflowRow)  # the spec's workflow_id names a workflow
    # Stored specs were validated when registered: reading them back cannot fail.
    return row, WorkflowSpec.from_dict(json.loads(row.spec))


def set_launch_plan_state(s: Session, ident: Identifier,
                          state: LaunchPlanState | str) -> LaunchPlanEntity:
    """Activate (deactivating the name's other versions) or deactivate a version.

    Every version of the name is locked first (PostgreSQL; SQLite holds its write lock),
    so two activations of one name queue; the partial unique index on ACTIVE rows is the
    guarantee underneath.
    """
    try:
        wanted = LaunchPlanState(state)
    except ValueError:
        raise InvalidArgumentError(f"launch plan state must be ACTIVE or INACTIVE, got "
                                   f"{state!r}") from None
    check_identifier(ident, ResourceType.LAUNCH_PLAN)
    versions = s.scalars(select(LaunchPlanRow).where(
        LaunchPlanRow.project == ident.project, LaunchPlanRow.domain == ident.domain,
        LaunchPlanRow.name == ident.name).order_by(LaunchPlanRow.pk).with_for_update()).all()
    row = next((r for r in versions if r.version == ident.version), None)
    if row is None:
        require_domain(s, ident.project, ident.domain, registering=False)
        raise NotFoundError(f"{describe(ident)} is not registered")
    moment = now()
    if wanted is LaunchPlanState.ACTIVE:
        s.execute(update(LaunchPlanRow).where(
            LaunchPlanRow.project == ident.project, LaunchPlanRow.domain == ident.domain,
            LaunchPlanRow.name == ident.name, LaunchPlanRow.pk != row.pk,
            LaunchPlanRow.state == LaunchPlanState.ACTIVE.value,
        ).values(state=LaunchPlanState.INACTIVE.value, state_updated_at=moment))
        s.flush()
    if row.state != wanted.value:
        row.state = wanted.value
        row.state_updated_at = moment
        s.flush()
    s.refresh(row)
    return entities.launch_plan_of(row)


def active_launch_plans(s: Session, project: str, domain: str,
                        options: ListOptions | None = None) -> Page[Entity]:
    """The ACTIVE versions of a project and domain, newest first unless ``options`` sort
    them otherwise."""
    return entities.list_versions(s, ResourceType.LAUNCH_PLAN, project, domain,
                                  options or ListOptions(), active_only=True)


def active_launch_plan(s: Session, project: str, domain: str, name: str) -> LaunchPlanEntity:
    """The active version of a launch plan name; NotFoundError when none is active."""
    check_part("name", name)
    require_domain(s, project, domain, registering=False)
    row = s.scalar(select(LaunchPlanRow).where(
        LaunchPlanRow.project == project, LaunchPlanRow.domain == domain,
        LaunchPlanRow.name == name, LaunchPlanRow.state == LaunchPlanState.ACTIVE.value))
    if row is None:
        raise NotFoundError(f"launch plan {project}/{domain}/{name} has no active version")
    return entities.launch_plan_of(row)


def resolve_launch_inputs(s: Session, ident: Identifier, inputs: Any) -> dict[str, Any]:
    """The inputs an execution of launch plan ``ident`` runs with, given ``inputs``
    (input name -> JSON literal): workflow defaults, then the plan's defaults, then
    ``inputs``, then the plan's fixed inputs. InvalidArgumentError names a fixed input
    that is given, an unknown input, a value of the wrong type, or a missing input."""
    check_identifier(ident, ResourceType.LAUNCH_PLAN)
    row = entities.get_row(s, ident)
    plan = LaunchPlanSpec.from_dict(json.loads(row.spec))
    return resolve_launch_plan_inputs(plan, _workflow_of(s, plan)[1], inputs)
