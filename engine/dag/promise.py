"""Promises: placeholders for values that exist only when a workflow runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, NoReturn

from engine.dag.resources import Resources
from engine.dag.source import call_site
from engine.dag.spec import (
    Binding,
    Comparison,
    Condition,
    Conjunction,
    Constant,
    NodeOverrides,
    OutputRef,
    PathKey,
)
from engine.dag.spec.bindings import step_type
from engine.dag.trace import order, override
from engine.errors import (
    BindingError,
    CompileError,
    ConfigError,
    NotYetSupportedError,
    PromiseMisuseError,
)
from engine.types.literal import Kind, LiteralType


class Promise:
    """The future value of a workflow input or of a task output, inside a trace."""

    __slots__ = ("ref", "type", "workflow", "origin")

    def __init__(self, ref: OutputRef, type: LiteralType, workflow: str, origin: str) -> None:
        self.ref = ref
        self.type = type
        self.workflow = workflow
        self.origin = origin  # "input 'n'" or "output 'o0' of task 'clean'", for messages

    def __repr__(self) -> str:
        return f"Promise({self.origin} of workflow '{self.workflow}': {self.type})"

    def _misuse(self, what: str) -> NoReturn:
        raise PromiseMisuseError(
            f"{what} (at {call_site()}): the {self.origin} is only known at run time; "
            "inside @workflow "
            f"'{self.workflow}' pass it to another task, branch with conditional(), or move "
            "this logic into a task"
        )

    def __bool__(self) -> bool:
        self._misuse("using a promise as a condition (if/while/and/or)")

    def __iter__(self) -> NoReturn:
        self._misuse("iterating over a promise")

    def __len__(self) -> int:
        self._misuse("taking len() of a promise")

    def __getitem__(self, key: Any) -> Promise:
        """``out[0]`` of a list, ``out["k"]`` of a dict: the item, resolved at run time."""
        if self.type.kind is Kind.LIST or self.type.kind is Kind.MAP:
            want = int if self.type.kind is Kind.LIST else str
            if not isinstance(key, want) or isinstance(key, bool):
                raise PromiseMisuseError(
                    f"indexing the {self.origin} with [{key!r}] (at {call_site()}) inside "
                    f"@workflow '{self.workflow}': a {self.type} is indexed by "
                    f"{want.__name__}, got {type(key).__name__}")
            return self._part(key, f"[{key!r}]")
        self._misuse(f"indexing a promise with [{key!r}]")

    def __getattr__(self, name: str) -> Promise:
        """``out.field`` of a dataclass: the field, resolved at run time."""
        if name.startswith("__"):
            raise AttributeError(name)
        if self.type.kind is Kind.RECORD:
            return self._part(name, f".{name}")
        self._misuse(f"reading attribute '.{name}' of a promise")

    def _part(self, key: PathKey, shown: str) -> Promise:
        try:
            part_type = step_type(self.type, key)
        except KeyError as e:
            raise BindingError(f"part {shown} of the {self.origin} (at {call_site()}) inside "
                               f"@workflow '{self.workflow}': {e.args[0]}") from None
        ref = replace(self.ref, path=(*self.ref.path, key))
        return Promise(ref, part_type, self.workflow, f"part {shown} of the {self.origin}")

    def __index__(self) -> int:
        self._misuse("using a promise as an index")

    def __int__(self) -> int:
        self._misuse("converting a promise with int()")

    def __float__(self) -> float:
        self._misuse("converting a promise with float()")

    def __str__(self) -> str:
        self._misuse("formatting a promise as text (str() or an f-string)")

    def __format__(self, spec: str) -> str:
        self._misuse("formatting a promise as text (str() or an f-string)")

    # Comparisons build conditions for conditional().if_(...); they are not booleans.
    def _compare(self, op: str, other: Any) -> ComparisonExpression:
        return ComparisonExpression(Comparison(op, self.ref, operand(other, self)),
                                    self.workflow)

    def __eq__(self, other: object) -> ComparisonExpression:  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: object) -> ComparisonExpression:  # type: ignore[override]
        return self._compare("!=", other)

    __hash__ = object.__hash__

    def __lt__(self, other: Any) -> ComparisonExpression:
        return self._compare("<", other)

    def __le__(self, other: Any) -> ComparisonExpression:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> ComparisonExpression:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> ComparisonExpression:
        return self._compare(">=", other)

    def is_true(self) -> ComparisonExpression:
        return ComparisonExpression(Comparison("is_true", self.ref), self.workflow)

    def is_false(self) -> ComparisonExpression:
        return ComparisonExpression(Comparison("is_false", self.ref), self.workflow)

    def is_none(self) -> ComparisonExpression:
        return ComparisonExpression(Comparison("is_none", self.ref), self.workflow)

    def with_overrides(self, **kwargs: Any) -> Promise:
        """Change this node's requests, limits, retries, timeout or name (flytekit's)."""
        override(self.ref.node_id, self.workflow, overrides_from(kwargs, self.ref.node_id))
        return self

    def __rshift__(self, other: Any) -> Any:
        """``a >> b``: the node of ``b`` runs after the node of ``a``."""
        order(self.ref.node_id, node_id_of(other), self.workflow)
        return other

    def __rrshift__(self, other: Any) -> NoReturn:
        self._misuse("computing with a promise ('>>')")


def operand(value: Any, promise: Promise) -> Binding:
    """The right side of a comparison: another promise, or a plain constant."""
    if isinstance(value, Promise):
        return value.ref
    if value is None or isinstance(value, (bool, int, float, str)):
        return Constant(value)
    raise PromiseMisuseError(
        f"comparing the {promise.origin} with {type(value).__name__} {value!r}: conditions "
        "compare with promises or with int, float, str, bool or None constants"
    )


class ComparisonExpression:
    """A condition for ``conditional().if_()``; combine with ``&`` and ``|``."""

    def __init__(self, condition: Condition, workflow: str) -> None:
        self.condition = condition
        self.workflow = workflow

    def __and__(self, other: ComparisonExpression) -> ComparisonExpression:
        return ComparisonExpression(Conjunction("and", self.condition, other.condition),
                                    self.workflow)

    def __or__(self, other: ComparisonExpression) -> ComparisonExpression:
        return ComparisonExpression(Conjunction("or", self.condition, other.condition),
                                    self.workflow)

    def __bool__(self) -> bool:
        raise PromiseMisuseError(
            f"using a comparison of promises as a Python condition (at {call_site()}): its "
            f"value is only known at run time; inside @workflow '{self.workflow}' branch "
            "with conditional(...).if_(...)"
        )


class NodeHandle:
    """A node in a workflow body: what ``create_node`` and output-less tasks return.

    ``a >> b`` orders nodes that share no data; a node's outputs are its attributes
    (``node.o0``) and ``node.outputs``.
    """

    def __init__(self, node_id: str, workflow: str, outputs: dict[str, Promise]) -> None:
        self.id = node_id
        self.workflow = workflow
        self.outputs = outputs

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("__") or name not in self.__dict__.get("outputs", {}):
            raise AttributeError(f"node '{self.__dict__.get('id')}' has no output '{name}'")
        return self.outputs[name]

    def __rshift__(self, other: Any) -> Any:
        order(self.id, node_id_of(other), self.workflow)
        return other

    def runs_before(self, other: Any) -> None:
        order(self.id, node_id_of(other), self.workflow)

    def with_overrides(self, **kwargs: Any) -> NodeHandle:
        """Change this node's requests, limits, retries, timeout or name (flytekit's)."""
        override(self.id, self.workflow, overrides_from(kwargs, self.id))
        return self

    def __repr__(self) -> str:
        return f"Node({self.id} of workflow '{self.workflow}')"


_LATER_OVERRIDES = {"node_name", "cache", "cache_version", "cache_serialize",
                    "container_image", "accelerator", "interruptible", "task_config",
                    "pod_template", "shared_memory", "aliases"}


def overrides_from(kwargs: dict[str, Any], node_id: str) -> NodeOverrides:
    """Check ``with_overrides`` arguments and normalise them for the spec."""
    unknown = set(kwargs) - {"name", "retries", "timeout", "requests", "limits"}
    if unknown - _LATER_OVERRIDES:
        raise TypeError(f"with_overrides() got unexpected option(s) "
                        f"{', '.join(sorted(unknown - _LATER_OVERRIDES))}")
    if unknown:
        raise NotYetSupportedError("with_overrides option(s) " + ", ".join(sorted(unknown)))
    what = f"node '{node_id}': with_overrides"
    retries = kwargs.get("retries")
    if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool)
                                or retries < 0):
        raise ConfigError(f"{what}: retries must be a whole number >= 0, got {retries!r}")
    timeout = kwargs.get("timeout")
    if isinstance(timeout, dt.timedelta):
        timeout = timeout.total_seconds()
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"{what}: timeout must be positive seconds or a timedelta, "
                          f"got {kwargs.get('timeout')!r}")
    requests, limits = kwargs.get("requests"), kwargs.get("limits")
    for label, res in (("requests", requests), ("limits", limits)):
        if res is not None and not isinstance(res, Resources):
            raise ConfigError(f"{what}: {label} must be Resources(...), got {res!r}")
    return NodeOverrides(
        name=kwargs.get("name"), retries=retries,
        timeout_s=float(timeout) if timeout is not None else None,
        requests=requests.to_spec(f"{what}: requests") if requests else None,
        limits=limits.to_spec(f"{what}: limits") if limits else None,
    )


def node_id_of(thing: Any) -> str:
    """The node behind a promise, a node handle, or a tuple of one node's promises."""
    if isinstance(thing, NodeHandle):
        return thing.id
    if isinstance(thing, Promise):
        return thing.ref.node_id
    if isinstance(thing, tuple) and thing and isinstance(thing[0], Promise):
        return thing[0].ref.node_id
    raise CompileError(f"'>>' orders nodes: got {type(thing).__name__}; use the result of a "
                       "task call or of create_node()")


def _arith(symbol: str) -> Any:
    def method(self: Promise, *args: Any) -> NoReturn:
        self._misuse(f"computing with a promise ('{symbol}')")

    return method


for _name, _symbol in [
    ("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("floordiv", "//"),
    ("mod", "%"), ("pow", "**"), ("matmul", "@"), ("and", "&"), ("or", "|"), ("xor", "^"),
    ("lshift", "<<"),
]:
    setattr(Promise, f"__{_name}__", _arith(_symbol))
    setattr(Promise, f"__r{_name}__", _arith(_symbol))
for _name, _symbol in [("neg", "-"), ("pos", "+"), ("abs", "abs()"), ("invert", "~")]:
    setattr(Promise, f"__{_name}__", _arith(_symbol))
