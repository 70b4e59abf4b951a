"""Promises: placeholders for values that exist only when a workflow runs."""

from __future__ import annotations

from typing import Any, NoReturn

from engine.dag.source import call_site
from engine.dag.spec import OutputRef
from engine.dag.types import LiteralType
from engine.errors import PromiseMisuseError


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

    def __getitem__(self, key: Any) -> NoReturn:
        self._misuse(f"indexing a promise with [{key!r}]")

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        self._misuse(f"reading attribute '.{name}' of a promise")

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

    def __eq__(self, other: object) -> bool:
        self._misuse("comparing a promise with ==")

    def __ne__(self, other: object) -> bool:
        self._misuse("comparing a promise with !=")

    __hash__ = object.__hash__

    def __lt__(self, other: Any) -> NoReturn:
        self._misuse("comparing a promise with <")

    def __le__(self, other: Any) -> NoReturn:
        self._misuse("comparing a promise with <=")

    def __gt__(self, other: Any) -> NoReturn:
        self._misuse("comparing a promise with >")

    def __ge__(self, other: Any) -> NoReturn:
        self._misuse("comparing a promise with >=")


def _arith(symbol: str) -> Any:
    def method(self: Promise, *args: Any) -> NoReturn:
        self._misuse(f"computing with a promise ('{symbol}')")

    return method


for _name, _symbol in [
    ("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("floordiv", "//"),
    ("mod", "%"), ("pow", "**"), ("matmul", "@"), ("and", "&"), ("or", "|"), ("xor", "^"),
    ("lshift", "<<"), ("rshift", ">>"),
]:
    setattr(Promise, f"__{_name}__", _arith(_symbol))
    setattr(Promise, f"__r{_name}__", _arith(_symbol))
for _name, _symbol in [("neg", "-"), ("pos", "+"), ("abs", "abs()"), ("invert", "~")]:
    setattr(Promise, f"__{_name}__", _arith(_symbol))
