"""Bindings (how a node input gets its value) and the conditions of branch nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Union

from engine.errors import DataError, SpecError
from engine.types.literal import Kind, LiteralType

# Node id of the workflow's inputs in bindings, as in Flyte.
START_NODE = "start-node"

# One step into a value: a list index (int), a dict key or a dataclass field (str).
PathKey = Union[int, str]


@dataclass(frozen=True)
class OutputRef:
    """The output ``var`` of node ``node_id`` (``START_NODE``: a workflow input), or the
    part of it that ``path`` names (flytekit's attribute path: ``out[0]``, ``out["k"]``,
    ``out.field``), resolved when the value exists."""

    node_id: str
    var: str
    path: tuple[PathKey, ...] = ()


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
        ref: dict[str, Any] = {"node_id": b.node_id, "var": b.var}
        if b.path:  # written only when set: specs without paths keep their versions
            ref["path"] = list(b.path)
        return {"ref": ref}
    if isinstance(b, Constant):
        return {"const": b.value}
    if isinstance(b, BindingList):
        return {"list": [binding_to_dict(i) for i in b.items]}
    return {"map": {k: binding_to_dict(v) for k, v in b.items}}


def binding_from_dict(d: dict[str, Any]) -> Binding:
    if "ref" in d:
        path = d["ref"].get("path", ())
        if not isinstance(path, list | tuple) or not all(
                isinstance(k, int | str) and not isinstance(k, bool) for k in path):
            raise SpecError(f"binding {d!r}: a path is a list of list indices and keys")
        return OutputRef(d["ref"]["node_id"], d["ref"]["var"], tuple(path))
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


# --- paths into values -----------------------------------------------------------------


def describe_path(path: tuple[PathKey, ...]) -> str:
    """``path`` as Python writes it: ``[0]["key"].field``."""
    return "".join(f"[{k!r}]" if isinstance(k, int) else f".{k}" if k.isidentifier()
                   and not k.startswith("_") else f"[{k!r}]" for k in path)


def step_type(t: LiteralType, key: PathKey) -> LiteralType:
    """The type of ``value[key]`` (or ``value.key``) for a value of type ``t``.

    Raises:
        KeyError: ``t`` has no such part; the message says what it has.
    """
    if t.kind is Kind.LIST and isinstance(key, int) and not isinstance(key, bool):
        assert t.item is not None  # invariant of a LIST type
        return t.item
    if t.kind is Kind.MAP and isinstance(key, str):
        assert t.item is not None
        return t.item
    if t.kind is Kind.RECORD and isinstance(key, str):
        fields = dict(t.fields)
        if key in fields:
            return fields[key]
        raise KeyError(f"{t} has no field '{key}'; its fields are "
                       f"{', '.join(fields) or 'none'}")
    shown = f"[{key!r}]" if not isinstance(key, str) or t.kind is Kind.MAP else f".{key}"
    parts = {Kind.LIST: "is indexed by int", Kind.MAP: "is indexed by str keys",
             Kind.RECORD: "has fields"}
    raise KeyError(f"a value of type {t} has no part {shown}: "
                   + (f"it {parts[t.kind]}" if t.kind in parts else
                      "only lists, dicts and dataclasses have parts"))


def path_type(t: LiteralType, path: tuple[PathKey, ...]) -> LiteralType:
    """The type of the part of a ``t`` value that ``path`` names (KeyError: none)."""
    for key in path:
        t = step_type(t, key)
    return t


def follow(value: Any, path: tuple[PathKey, ...]) -> Any:
    """The part of ``value`` that ``path`` names, in its Python form or its JSON form
    (where a dataclass is a dict).

    Raises:
        DataError: the value lacks it (an index past the end, a missing key): a fault
            of the data, so of the user's code, not of the engine.
    """
    for step, key in enumerate(path):
        try:
            if isinstance(key, int) or isinstance(value, Mapping):
                value = value[key]
            else:
                value = getattr(value, key)
        except (IndexError, KeyError, AttributeError, TypeError):
            raise DataError(f"{describe_path(path)}, but {_what(value)} has no "
                            f"{describe_path(path[:step + 1])}") from None
    return value


def _what(value: Any) -> str:
    if isinstance(value, list | tuple):
        return f"the list of {len(value)} items"
    if isinstance(value, Mapping):
        return f"the dict with keys {', '.join(map(repr, list(value)[:10])) or 'none'}"
    return f"the {type(value).__name__} value"


def with_path(b: Binding, path: tuple[PathKey, ...]) -> Binding:
    """The binding of the part ``path`` names of what ``b`` binds: a reference
    reaches further, a constant or a list or dict of bindings is indexed now.

    Raises:
        DataError: a constant, list or dict has no such part.
    """
    if not path:
        return b
    if isinstance(b, OutputRef):
        return replace(b, path=b.path + path)
    if isinstance(b, Constant):
        return Constant(follow(b.value, path))
    head, rest = path[0], path[1:]
    items: dict[PathKey, Binding] = dict(enumerate(b.items)) if isinstance(b, BindingList) \
        else dict(b.items)
    if isinstance(head, int) and isinstance(b, BindingList) and head < 0:
        head += len(b.items)
    if head not in items:
        raise DataError(f"the {'list' if isinstance(b, BindingList) else 'dict'} bound "
                        f"here has no {describe_path(path[:1])}")
    return with_path(items[head], rest)


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
