"""The compiled form of tasks and workflows: immutable, JSON-serializable, versioned.

A leaf module of plain data (no Ray, no user code). ``WorkflowSpec.from_json``
is loaded and validated by :func:`engine.dag.graph.load_workflow`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Union

from engine.errors import SpecError
from engine.types.literal import LiteralType

SCHEMA_VERSION = 1

# Node id of the workflow's inputs in bindings, as in Flyte.
START_NODE = "start-node"
# Node id of a workflow's on_failure handler, and the input that receives the error.
ON_FAILURE_NODE = "on-failure"
ON_FAILURE_ERROR = "err"


class WorkflowFailurePolicy(str, Enum):
    """What a workflow does when a node fails for good (flytekit's names)."""

    FAIL_IMMEDIATELY = "FAIL_IMMEDIATELY"  # cancel everything still pending
    # Let nodes that do not depend on the failed one finish, then fail.
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE"


class ResourceType(str, Enum):
    TASK = "task"
    WORKFLOW = "workflow"
    LAUNCH_PLAN = "launch_plan"


@dataclass(frozen=True)
class Identifier:
    """Names one registered entity; registered entities never change."""

    resource_type: ResourceType
    project: str
    domain: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.resource_type.value}:{self.project}/{self.domain}/{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_type": self.resource_type.value,
            "project": self.project,
            "domain": self.domain,
            "name": self.name,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Identifier:
        return cls(
            ResourceType(d["resource_type"]), d["project"], d["domain"], d["name"], d["version"]
        )


@dataclass(frozen=True)
class Variable:
    """A typed input or output. ``default`` is a JSON literal when ``has_default``."""

    name: str
    type: LiteralType
    has_default: bool = False
    default: Any = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type.to_dict()}
        if self.has_default:
            d["default"] = self.default
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variable:
        return cls(d["name"], LiteralType.from_dict(d["type"]), "default" in d, d.get("default"))


@dataclass(frozen=True)
class Interface:
    inputs: tuple[Variable, ...] = ()
    outputs: tuple[Variable, ...] = ()

    def input(self, name: str) -> Variable | None:
        return next((v for v in self.inputs if v.name == name), None)

    def output(self, name: str) -> Variable | None:
        return next((v for v in self.outputs if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [v.to_dict() for v in self.inputs],
            "outputs": [v.to_dict() for v in self.outputs],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interface:
        return cls(
            tuple(Variable.from_dict(v) for v in d["inputs"]),
            tuple(Variable.from_dict(v) for v in d["outputs"]),
        )


# --- bindings: how a node input gets its value -------------------------------------


@dataclass(frozen=True)
class OutputRef:
    """The output ``var`` of node ``node_id`` (``START_NODE``: a workflow input)."""

    node_id: str
    var: str


@dataclass(frozen=True)
class Constant:
    """A JSON literal fixed at compile time."""

    value: Any


@dataclass(frozen=True)
class BindingList:
    items: tuple[Binding, ...]


@dataclass(frozen=True)
class BindingMap:
    items: tuple[tuple[str, Binding], ...]


Binding = Union[OutputRef, Constant, BindingList, BindingMap]


def binding_to_dict(b: Binding) -> dict[str, Any]:
    if isinstance(b, OutputRef):
        return {"ref": {"node_id": b.node_id, "var": b.var}}
    if isinstance(b, Constant):
        return {"const": b.value}
    if isinstance(b, BindingList):
        return {"list": [binding_to_dict(i) for i in b.items]}
    return {"map": {k: binding_to_dict(v) for k, v in b.items}}


def binding_from_dict(d: dict[str, Any]) -> Binding:
    if "ref" in d:
        return OutputRef(d["ref"]["node_id"], d["ref"]["var"])
    if "const" in d:
        return Constant(d["const"])
    if "list" in d:
        return BindingList(tuple(binding_from_dict(i) for i in d["list"]))
    if "map" in d:
        return BindingMap(tuple((k, binding_from_dict(v)) for k, v in d["map"].items()))
    raise SpecError(f"unknown binding {d!r}: expected one of ref, const, list, map")


def refs_of(b: Binding) -> list[OutputRef]:
    """Every output reference inside a binding, depth first."""
    if isinstance(b, OutputRef):
        return [b]
    if isinstance(b, BindingList):
        return [r for i in b.items for r in refs_of(i)]
    if isinstance(b, BindingMap):
        return [r for _, i in b.items for r in refs_of(i)]
    return []


# --- conditions of branch nodes -------------------------------------------------------

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "is_true", "is_false", "is_none")


@dataclass(frozen=True)
class Comparison:
    """``left <op> right``; the unary ops (is_true, is_false, is_none) have no right."""

    op: str
    left: Binding
    right: Binding | None = None


@dataclass(frozen=True)
class Conjunction:
    """``left & right`` (op "and") or ``left | right`` (op "or")."""

    op: str
    left: Condition
    right: Condition


Condition = Union[Comparison, Conjunction]


def condition_to_dict(c: Condition) -> dict[str, Any]:
    if isinstance(c, Comparison):
        d: dict[str, Any] = {"op": c.op, "left": binding_to_dict(c.left)}
        if c.right is not None:
            d["right"] = binding_to_dict(c.right)
        return d
    return {"op": c.op, "left": condition_to_dict(c.left), "right": condition_to_dict(c.right)}


def condition_from_dict(d: dict[str, Any]) -> Condition:
    if d["op"] in ("and", "or"):
        return Conjunction(d["op"], condition_from_dict(d["left"]),
                           condition_from_dict(d["right"]))
    if d["op"] not in COMPARISONS:
        raise SpecError(f"unknown comparison {d['op']!r}")
    right = binding_from_dict(d["right"]) if "right" in d else None
    return Comparison(d["op"], binding_from_dict(d["left"]), right)


def condition_refs(c: Condition) -> list[OutputRef]:
    if isinstance(c, Comparison):
        return [*refs_of(c.left), *(refs_of(c.right) if c.right is not None else [])]
    return [*condition_refs(c.left), *condition_refs(c.right)]


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


# --- tasks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceSpec:
    """Resource quantities normalised to numbers: cpu in cores, mem in bytes."""

    cpu: float | None = None
    mem: int | None = None
    gpu: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("cpu", self.cpu), ("mem", self.mem), ("gpu", self.gpu))
                if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResourceSpec:
        return cls(d.get("cpu"), d.get("mem"), d.get("gpu"))


@dataclass(frozen=True)
class TaskMetadata:
    cache: bool = False
    cache_version: str = ""
    retries: int = 0
    timeout_s: float | None = None
    interruptible: bool = False
    requests: ResourceSpec = ResourceSpec()
    limits: ResourceSpec = ResourceSpec()
    # (group, key) pairs of the secrets the task asks for.
    secrets: tuple[tuple[str, str], ...] = ()
    container_image: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    # cache_serialize: concurrent runs of one cache key wait for a single computation.
    cache_serialize: bool = False
    # Inputs left out of the cache key.
    cache_ignore_input_vars: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache": self.cache,
            "cache_version": self.cache_version,
            "retries": self.retries,
            "timeout_s": self.timeout_s,
            "interruptible": self.interruptible,
            "requests": self.requests.to_dict(),
            "limits": self.limits.to_dict(),
            "secrets": [list(s) for s in self.secrets],
            "container_image": self.container_image,
            "environment": dict(self.environment),
            "cache_serialize": self.cache_serialize,
            "cache_ignore_input_vars": list(self.cache_ignore_input_vars),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskMetadata:
        return cls(
            cache=d["cache"],
            cache_version=d["cache_version"],
            retries=d["retries"],
            timeout_s=d["timeout_s"],
            interruptible=d["interruptible"],
            requests=ResourceSpec.from_dict(d["requests"]),
            limits=ResourceSpec.from_dict(d["limits"]),
            secrets=tuple((g, k) for g, k in d["secrets"]),
            container_image=d["container_image"],
            environment=tuple(d["environment"].items()),
            cache_serialize=d.get("cache_serialize", False),
            cache_ignore_input_vars=tuple(d.get("cache_ignore_input_vars", ())),
        )


@dataclass(frozen=True)
class ContainerSpec:
    """What a raw-container task (``ContainerTask``) runs in its image (the metadata's
    ``container_image``), with Flyte's data loading: one file per input in
    ``input_data_dir`` and one per output in ``output_data_dir``, named after it."""

    command: tuple[str, ...]
    arguments: tuple[str, ...] = ()
    input_data_dir: str = "/var/inputs"
    output_data_dir: str = "/var/outputs"
    # Format of the file holding all inputs, written next to them: JSON or YAML.
    metadata_format: str = "JSON"

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "arguments": list(self.arguments),
            "input_data_dir": self.input_data_dir,
            "output_data_dir": self.output_data_dir,
            "metadata_format": self.metadata_format,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerSpec:
        return cls(tuple(d["command"]), tuple(d["arguments"]), d["input_data_dir"],
                   d["output_data_dir"], d["metadata_format"])


@dataclass(frozen=True)
class TaskSpec:
    """A task: identity, typed interface, metadata, and where its code lives."""

    id: Identifier
    interface: Interface
    metadata: TaskMetadata
    # Import path of the task object: module and attribute name.
    module: str
    attribute: str
    # Set for raw-container tasks only; absent from the JSON otherwise.
    container: ContainerSpec | None = None
    # Set for the stub of a ``reference_task``/``reference_launch_plan``: the registered
    # entity its node runs. A stub is not registered itself; absent from the JSON otherwise.
    reference: Identifier | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id.to_dict(),
            "interface": self.interface.to_dict(),
            "metadata": self.metadata.to_dict(),
            "module": self.module,
            "attribute": self.attribute,
        }
        if self.container is not None:
            d["container"] = self.container.to_dict()
        if self.reference is not None:
            d["reference"] = self.reference.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        return cls(
            Identifier.from_dict(d["id"]),
            Interface.from_dict(d["interface"]),
            TaskMetadata.from_dict(d["metadata"]),
            d["module"],
            d["attribute"],
            ContainerSpec.from_dict(d["container"]) if d.get("container") else None,
            Identifier.from_dict(d["reference"]) if d.get("reference") else None,
        )


# --- workflows -----------------------------------------------------------------------


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
    """One unit of work in a workflow: a call of a task, or a branch (conditional)."""

    id: str
    task: str  # key of the TaskSpec in WorkflowSpec.tasks (the task's name); "" for a branch
    inputs: tuple[tuple[str, Binding], ...]
    # Nodes that must finish first although no data flows from them.
    extra_upstream: tuple[str, ...] = ()
    # Where the node was created in the user's source, "file.py:12".
    source: str = ""
    branch: BranchSpec | None = None
    overrides: NodeOverrides | None = None

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
