"""Moving specs to another project, domain and version, consistently.

A registration puts every entity it registers under one version (``flyray register
--version``, or a hash of the code and the specs): the spec's own id and every id of an
entity it refers to (the tasks and launch plans inside a workflow spec) move together,
so references still name what the same registration registered. Pure functions over
the spec; nothing else changes.

The driver of a remote execution compares the spec its code compiles to with the
registered one through the same functions: ``moved_workflow(compiled, *registered
scope) == registered``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.dag.spec import Identifier, TaskSpec, WorkflowSpec


@dataclass(frozen=True)
class Scope:
    """Where registered entities live: project, domain and version."""

    project: str
    domain: str
    version: str

    @classmethod
    def of(cls, ident: Identifier) -> Scope:
        return cls(ident.project, ident.domain, ident.version)


def moved_identifier(ident: Identifier, scope: Scope) -> Identifier:
    return replace(ident, project=scope.project, domain=scope.domain, version=scope.version)


def moved_task(spec: TaskSpec, scope: Scope) -> TaskSpec:
    return replace(spec, id=moved_identifier(spec.id, scope))


def moved_workflow(spec: WorkflowSpec, scope: Scope) -> WorkflowSpec:
    """The workflow and every task and launch plan it calls, moved to ``scope``."""
    tasks = {key: moved_task(used, scope) for key, used in spec.tasks.items()}
    return replace(spec, id=moved_identifier(spec.id, scope), tasks=tasks)
