"""``conditional``: branch a workflow on values known only at run time, as flytekit's.

    conditional("size").if_(n < 10).then(small(n=n))
                       .elif_((n >= 10) & (n < 100)).then(medium(n=n))
                       .else_().fail("n is too large")

The nodes created inside an arm (the argument of ``then``) run only if the arm is
taken; the others are SKIPPED. The result of the last ``then``/``fail`` is the
branch's output.
"""

from __future__ import annotations

from typing import Any

from engine.dag.promise import ComparisonExpression, NodeHandle, Promise
from engine.dag.source import call_site
from engine.dag.spec import Binding, BranchSpec, Case, Node, OutputRef, Variable
from engine.dag.trace import Trace, current_trace
from engine.errors import BindingError, CompileError
from engine.types.literal import LiteralType, is_assignable


class _Branch:
    """A conditional being built in a trace; becomes a branch node when compiled."""

    def __init__(self, name: str, node_id: str, trace: Trace, source: str) -> None:
        self.name = name
        self.id = node_id
        self.trace = trace
        self.source = source
        self.cases: list[Case] = []
        self.members: list[list[str]] = []
        self.types: list[LiteralType] | None = None  # output types, fixed by the first arm
        self.closed = False

    def where(self) -> str:
        return f"workflow '{self.trace.workflow}', conditional '{self.name}' (at {self.source})"

    def add_member(self, arm: int, node_id: str) -> None:
        self.members[arm].append(node_id)

    def open(self, expr: ComparisonExpression | None) -> None:
        if self.closed:
            raise CompileError(f"{self.where()}: else_() was already given")
        if expr is not None and not isinstance(expr, ComparisonExpression):
            raise CompileError(
                f"{self.where()}: if_()/elif_() take a comparison of promises, like "
                f"(x > 0) & (y == 'a') or flag.is_true(), not {type(expr).__name__}"
            )
        self.cases.append(Case(expr.condition if expr is not None else None, ()))
        self.members.append([])
        self.trace.open_arms.append((self.id, len(self.cases) - 1))

    def close(self, value: Any, fail: str | None = None) -> None:
        arm = len(self.cases) - 1
        if not self.trace.open_arms or self.trace.open_arms[-1] != (self.id, arm):
            raise CompileError(f"{self.where()}: then()/fail() without an open if_/elif_/else_")
        self.trace.open_arms.pop()
        outputs = [] if fail is not None else self._outputs(value, arm)
        case = self.cases[arm]
        self.cases[arm] = Case(case.condition, tuple(self.members[arm]), tuple(outputs), fail)
        if case.condition is None:
            self.closed = True
        if self.types is not None:
            self.trace.output_types[self.id] = {
                f"o{i}": t for i, t in enumerate(self.types)}

    def _outputs(self, value: Any, arm: int) -> list[tuple[str, Binding]]:
        if value is None or isinstance(value, NodeHandle):
            promises: list[Promise] = []
        elif isinstance(value, Promise):
            promises = [value]
        elif isinstance(value, tuple) and all(isinstance(p, Promise) for p in value):
            promises = list(value)
        else:
            raise BindingError(f"{self.where()}: then() takes the result of a task call, got "
                               f"{type(value).__name__}")
        types = [p.type for p in promises]
        if self.types is None:
            self.types = types
        elif len(types) != len(self.types) or not all(
                is_assignable(t, want) for t, want in zip(types, self.types, strict=False)):
            raise BindingError(
                f"{self.where()}: arm {arm + 1} gives ({', '.join(map(str, types))}) but the "
                f"first arm gives ({', '.join(map(str, self.types))}); every arm must give "
                "the same outputs"
            )
        refs: list[OutputRef] = [p.ref for p in promises]
        for p in promises:
            if p.ref.path:  # the driver hands a taken arm's outputs on whole, as ObjectRefs
                raise BindingError(
                    f"{self.where()}: then() gives the {p.origin}; give the whole output "
                    "and index the conditional's result instead")
        return [(f"o{i}", ref) for i, ref in enumerate(refs)]

    def result(self) -> Any:
        types = self.types or []
        promises = [Promise(OutputRef(self.id, f"o{i}"), t, self.trace.workflow,
                            f"output 'o{i}' of conditional '{self.name}'")
                    for i, t in enumerate(types)]
        if not promises:
            return NodeHandle(self.id, self.trace.workflow, {})
        return promises[0] if len(promises) == 1 else tuple(promises)

    def node(self) -> Node:
        outputs = tuple(Variable(f"o{i}", t) for i, t in enumerate(self.types or []))
        return Node(self.id, "", (), source=self.source,
                    branch=BranchSpec(self.name, tuple(self.cases), outputs))


class ConditionalSection:
    """What ``conditional(name)`` and an arm's ``then`` return: add arms to it."""

    def __init__(self, branch: _Branch) -> None:
        self._branch = branch

    def if_(self, expr: ComparisonExpression) -> _Arm:
        if self._branch.cases:
            raise CompileError(f"{self._branch.where()}: if_() comes first; use elif_()")
        self._branch.open(expr)
        return _Arm(self._branch)

    def elif_(self, expr: ComparisonExpression) -> _Arm:
        if not self._branch.cases:
            raise CompileError(f"{self._branch.where()}: start with if_()")
        self._branch.open(expr)
        return _Arm(self._branch)

    def else_(self) -> _Arm:
        if not self._branch.cases:
            raise CompileError(f"{self._branch.where()}: start with if_()")
        self._branch.open(None)
        return _Arm(self._branch)

    def __repr__(self) -> str:
        return f"<conditional '{self._branch.name}' without else_()>"


class _Arm:
    """An open arm: close it with ``then(task_call(...))`` or, for else_, ``fail(msg)``."""

    def __init__(self, branch: _Branch) -> None:
        self._branch = branch

    def then(self, value: Any) -> Any:
        self._branch.close(value)
        if self._branch.closed:
            return self._branch.result()
        return ConditionalSection(self._branch)

    def fail(self, message: str) -> Any:
        if self._branch.cases[-1].condition is not None:
            raise CompileError(f"{self._branch.where()}: fail() ends the else_() arm only")
        self._branch.close(None, fail=message)
        return self._branch.result()


def conditional(name: str) -> ConditionalSection:
    """Start a conditional inside a ``@workflow`` body (see the module docstring)."""
    trace = current_trace()
    node_id = f"n{trace.next_id()}"
    branch = _Branch(name, node_id, trace, call_site())
    trace.branches[node_id] = branch
    trace.add_node(Node(node_id, "", (), source=branch.source, branch=BranchSpec(name, ())))
    trace.output_types[node_id] = {}
    return ConditionalSection(branch)
