"""The compiled form of a workflow: its nodes (task calls, branches and gates), their
bindings, and the specs of every task it uses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from engine.dag.spec.bindings import (
    START_NODE,
    Binding,
    Condition,
    binding_from_dict,
    binding_to_dict,
    condition_from_dict,
    condition_refs,
    condition_to_dict,
    refs_of,
)
from engine.dag.spec.gate import GateSpec
from engine.dag.spec.identifier import Identifier
from engine.dag.spec.interface import Interface, Variable
from engine.dag.spec.task import ResourceSpec, TaskMetadata, TaskSpec
from engine.errors import SpecError

SCHEMA_VERSION = 1

# Node id of a workflow's on_failure handler, and the input that receives the error.
ON_FAILURE_NODE = "on-failure"
ON_FAILURE_ERROR = "err"


class WorkflowFailurePolicy(str, Enum):
    """What a workflow does when a node fails for good (flytekit's names)."""

    FAIL_IMMEDIATELY = "FAIL_IMMEDIATELY"  # cancel everything still pending
    # Let nodes that do not depend on the failed one finish, then fail.
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"


@dataclass(frozen=True)
class Case:
    """One arm of a branch: taken when ``condition`` holds (None: the else arm)."""

    condition: Condition | None
    nodes: tuple[str, ...]  # nodes created in this arm: run only if it is taken
    outputs: tuple[tuple[str, Binding], ...] = ()  # the branch's outputs from this arm
    fail: str | None = None  # else_().fail(message): the workflow fails with it

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": condition_to_dict(self.condition) if self.condition else None,
            "nodes": list(self.nodes),
            "outputs": {k: binding_to_dict(b) for k, b in self.outputs},
            "fail": self.fail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Case:
        return cls(
            condition_from_dict(d["condition"]) if d["condition"] else None,
            tuple(d["nodes"]),
            tuple((k, binding_from_dict(b)) for k, b in d["outputs"].items()),
            d["fail"],
        )


@dataclass(frozen=True)
class BranchSpec:
    """A conditional: the first arm whose condition holds runs, the others are skipped."""

    name: str
    cases: tuple[Case, ...]
    outputs: tuple[Variable, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "cases": [c.to_dict() for c in self.cases],
                "outputs": [v.to_dict() for v in self.outputs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BranchSpec:
        return cls(d["name"], tuple(Case.from_dict(c) for c in d["cases"]),
                   tuple(Variable.from_dict(v) for v in d["outputs"]))


@dataclass(frozen=True)
class NodeOverrides:
    """``.with_overrides(...)`` on a node: replaces the task's settings for this node only."""

    name: str | None = None
    retries: int | None = None
    timeout_s: float | None = None
    requests: ResourceSpec | None = None
    limits: ResourceSpec | None = None

    def apply(self, metadata: TaskMetadata) -> TaskMetadata:
        """The task's metadata with these overrides."""
        changes: dict[str, Any] = {}
        if self.retries is not None:
            changes["retries"] = self.retries
        if self.timeout_s is not None:
            changes["timeout_s"] = self.timeout_s
        if self.requests is not None:
            changes["requests"] = self.requests
        if self.limits is not None:
            changes["limits"] = self.limits
        return replace(metadata, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "retries": self.retries, "timeout_s": self.timeout_s,
            "requests": self.requests.to_dict() if self.requests else None,
            "limits": self.limits.to_dict() if self.limits else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeOverrides:
        return cls(
            d.get("name"), d.get("retries"), d.get("timeout_s"),
            ResourceSpec.from_dict(d["requests"]) if d.get("requests") is not None else None,
            ResourceSpec.from_dict(d["limits"]) if d.get("limits") is not None else None,
        )


@dataclass(frozen=True)
class Node:
    """One unit of work in a workflow: a call of a task, a branch (conditional), or a gate
    (sleep, wait_for_input, approve: see :mod:`engine.dag.spec.gate`)."""

    id: str
    # Key of the TaskSpec in WorkflowSpec.tasks (the task's name); "" for a branch or gate.
    task: str
    inputs: tuple[tuple[str, Binding], ...]
    # Nodes that must finish first although no data flows from them.
    extra_upstream: tuple[str, ...] = ()
    # Where the node was created in the user's source, "file.py:12".
    source: str = ""
    branch: BranchSpec | None = None
    overrides: NodeOverrides | None = None
    # Set for a gate node only; absent from the JSON otherwise, so that the specs (and
    # versions) of workflows without gates do not change.
    gate: GateSpec | None = None

    def upstream(self) -> list[str]:
        """Node ids this node waits for (data dependencies first), without duplicates.

        A branch waits for its conditions' operands and for the nodes its arms'
        outputs come from (so arms sort before it); arms are gated by it at run time.
        """
        refs = [r for _, b in self.inputs for r in refs_of(b)]
        if self.branch is not None:
            for case in self.branch.cases:
                refs += condition_refs(case.condition) if case.condition else []
                refs += [r for _, b in case.outputs for r in refs_of(b)]
        ids = [r.node_id for r in refs if r.node_id != START_NODE]
        return list(dict.fromkeys([*ids, *self.extra_upstream]))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "task": self.task,
            "inputs": {k: binding_to_dict(b) for k, b in self.inputs},
            "extra_upstream": list(self.extra_upstream),
            "source": self.source,
        }
        if self.branch is not None:
            d["branch"] = self.branch.to_dict()
        if self.overrides is not None:
            d["overrides"] = self.overrides.to_dict()
        if self.gate is not None:
            d["gate"] = self.gate.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Node:
        return cls(
            d["id"],
            d["task"],
            tuple((k, binding_from_dict(b)) for k, b in d["inputs"].items()),
            tuple(d["extra_upstream"]),
            d["source"],
            BranchSpec.from_dict(d["branch"]) if d.get("branch") else None,
            NodeOverrides.from_dict(d["overrides"]) if d.get("overrides") else None,
            GateSpec.from_dict(d["gate"]) if d.get("gate") else None,
        )


@dataclass(frozen=True)
class WorkflowSpec:
    """A compiled workflow with the specs of every task it uses (its closure)."""

    id: Identifier
    interface: Interface
    nodes: tuple[Node, ...]
    outputs: tuple[tuple[str, Binding], ...]
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    failure_policy: WorkflowFailurePolicy = WorkflowFailurePolicy.FAIL_IMMEDIATELY
    # Runs when the workflow fails: its inputs bind workflow inputs, and its input
    # ON_FAILURE_ERROR (if declared) receives the error from the engine.
    on_failure: Node | None = None

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def with_version(self, version: str) -> WorkflowSpec:
        return replace(self, id=replace(self.id, version=version))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id.to_dict(),
            "interface": self.interface.to_dict(),
            "nodes": [n.to_dict() for n in self.nodes],
            "outputs": {k: binding_to_dict(b) for k, b in self.outputs},
            "tasks": {k: t.to_dict() for k, t in self.tasks.items()},
            "failure_policy": self.failure_policy.value,
            "on_failure": self.on_failure.to_dict() if self.on_failure else None,
        }

    def to_json(self) -> str:
        # Key order is meaningful (inputs, outputs and dict bindings keep declaration
        # order), so keys are never sorted; the text is still deterministic.
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkflowSpec:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise SpecError(
                f"workflow spec has schema_version {d.get('schema_version')!r}, this Flyray "
                f"reads version {SCHEMA_VERSION}; recompile the workflow with this Flyray"
            )
        try:
            spec = cls(
                Identifier.from_dict(d["id"]),
                Interface.from_dict(d["interface"]),
                tuple(Node.from_dict(n) for n in d["nodes"]),
                tuple((k, binding_from_dict(b)) for k, b in d["outputs"].items()),
                {k: TaskSpec.from_dict(t) for k, t in d["tasks"].items()},
                WorkflowFailurePolicy(d.get("failure_policy", "FAIL_IMMEDIATELY")),
                Node.from_dict(d["on_failure"]) if d.get("on_failure") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if isinstance(e, SpecError):
                raise
            raise SpecError(f"malformed workflow spec: {type(e).__name__}: {e}") from e
        return spec
