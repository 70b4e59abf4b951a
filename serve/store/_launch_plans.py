"""Launch plans: registration against their workflow, activation, inputs of a launch."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.dag.spec import Identifier, LaunchPlanSpec, ResourceType, WorkflowSpec
from serve.errors import InvalidArgumentError, NotFoundError
from serve.store import _entities
from serve.store._models import LaunchPlanRow, WorkflowRow
from serve.store._projects import now, require_domain
from serve.store.identifiers import check_identifier, check_part, describe
from serve.store.inputs import resolve_launch_plan_inputs
from serve.store.records import LaunchPlanEntity, LaunchPlanState
from serve.store.specs import canonical_json, check_against_workflow


def register(s: Session, plan: LaunchPlanSpec, code_uri: str | None,
             *, default_of: WorkflowRow | None = None) -> tuple[LaunchPlanEntity, bool]:
    """Store a launch plan version (INACTIVE); ``default_of``: the workflow row whose
    default launch plan this is (already checked, registered in this transaction)."""
    workflow_row = default_of
    if workflow_row is None:
        require_domain(s, plan.id.project, plan.id.domain, registering=True)
        check_against_workflow(plan, _workflow_spec_of(s, plan))
        found = _entities.find_row(s, plan.workflow_id)
        assert isinstance(found, WorkflowRow)  # _workflow_spec_of found it
        workflow_row = found
    schedule = canonical_json(plan.schedule.to_dict()) if plan.schedule is not None else None
    row, created = _entities.register(
        s, plan.id, plan.to_dict(), code_uri, workflow_pk=workflow_row.pk,
        state=LaunchPlanState.INACTIVE.value, state_updated_at=now(), schedule=schedule,
        max_parallel_executions=plan.max_parallel_executions)
    entity = _entities.entity_of(row)
    assert isinstance(entity, LaunchPlanEntity)
    return entity, created


def _workflow_spec_of(s: Session, plan: LaunchPlanSpec) -> WorkflowSpec:
    row = _entities.find_row(s, plan.workflow_id)
    if row is None:
        raise InvalidArgumentError(
            f"launch plan {describe(plan.id)} is for {describe(plan.workflow_id)}, which is "
            "not registered; register the workflow first")
    # Stored specs were validated when registered: reading them back cannot fail.
    return WorkflowSpec.from_dict(json.loads(row.spec))


def set_state(s: Session, ident: Identifier, state: LaunchPlanState) -> LaunchPlanEntity:
    """Activate or deactivate one version; activating deactivates the name's other versions.

    Every version of the name is locked first (PostgreSQL; SQLite holds its write lock),
    so two activations of one name queue; the partial unique index on ACTIVE rows is the
    guarantee underneath.
    """
    check_identifier(ident, ResourceType.LAUNCH_PLAN)
    versions = s.scalars(select(LaunchPlanRow).where(
        LaunchPlanRow.project == ident.project, LaunchPlanRow.domain == ident.domain,
        LaunchPlanRow.name == ident.name).order_by(LaunchPlanRow.pk).with_for_update()).all()
    row = next((r for r in versions if r.version == ident.version), None)
    if row is None:
        require_domain(s, ident.project, ident.domain, registering=False)
        raise NotFoundError(f"{describe(ident)} is not registered")
    moment = now()
    if state is LaunchPlanState.ACTIVE:
        s.execute(update(LaunchPlanRow).where(
            LaunchPlanRow.project == ident.project, LaunchPlanRow.domain == ident.domain,
            LaunchPlanRow.name == ident.name, LaunchPlanRow.pk != row.pk,
            LaunchPlanRow.state == LaunchPlanState.ACTIVE.value,
        ).values(state=LaunchPlanState.INACTIVE.value, state_updated_at=moment))
        s.flush()
    if row.state != state.value:
        row.state = state.value
        row.state_updated_at = moment
        s.flush()
    s.refresh(row)
    entity = _entities.entity_of(row)
    assert isinstance(entity, LaunchPlanEntity)
    return entity


def get_active(s: Session, project: str, domain: str, name: str) -> LaunchPlanEntity:
    check_part("name", name)
    require_domain(s, project, domain, registering=False)
    row = s.scalar(select(LaunchPlanRow).where(
        LaunchPlanRow.project == project, LaunchPlanRow.domain == domain,
        LaunchPlanRow.name == name, LaunchPlanRow.state == LaunchPlanState.ACTIVE.value))
    if row is None:
        raise NotFoundError(f"launch plan {project}/{domain}/{name} has no active version")
    entity = _entities.entity_of(row)
    assert isinstance(entity, LaunchPlanEntity)
    return entity


def launch_inputs(s: Session, ident: Identifier, given: Any) -> dict[str, Any]:
    """The inputs a launch of ``ident`` with ``given`` would run with."""
    check_identifier(ident, ResourceType.LAUNCH_PLAN)
    row = _entities.get_row(s, ident)
    plan = LaunchPlanSpec.from_dict(json.loads(row.spec))
    return resolve_launch_plan_inputs(plan, _workflow_spec_of(s, plan), given)
