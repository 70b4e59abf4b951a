"""Bindings (how a node input gets its value) and the conditions of branch nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from engine.errors import SpecError

# Node id of the workflow's inputs in bindings, as in Flyte.
START_NODE = "start-node"


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
