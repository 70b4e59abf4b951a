"""Interface extraction: the one place a Python signature becomes a typed interface."""

from __future__ import annotations

import collections
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any

from engine.dag.spec import Interface, Variable
from engine.errors import InputValueError, InterfaceError
from engine.types import registrations
from engine.types.model_transformer import python_value
from engine.types.type_engine import TypeEngine


@dataclass(frozen=True)
class PythonInterface:
    """Python types of a task's or workflow's inputs and outputs."""

    inputs: dict[str, Any]
    defaults: dict[str, Any]  # only inputs that have a default
    outputs: dict[str, Any]
    # NamedTuple class the outputs are returned as: the user's, or
    # DefaultNamedTupleOutput for unnamed tuples; None for zero or one output.
    output_tuple: type | None

    def __getstate__(self) -> dict[str, Any]:
        # The user's type handlers travel with every task to its worker.
        return {**self.__dict__, "_registrations": registrations.snapshot()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        registrations.replay(state.pop("_registrations", ()))
        self.__dict__.update(state)

    def pack_outputs(self, values: list[Any]) -> Any:
        """What a call returns, given the output values in declaration order (values of
        flytekit-style types read back from their literals)."""
        values = [python_value(v) if TypeEngine.has_boundary(t) else v
                  for v, t in zip(values, self.outputs.values(), strict=True)]
        if self.output_tuple is not None:
            return self.output_tuple(*values)
        return values[0] if values else None

    def unpack_outputs(self, returned: Any, where: str) -> list[Any]:
        """The output values of what the user's function returned, in order."""
        n = len(self.outputs)
        if n == 0:
            return []
        if n == 1:
            return [returned]
        if not isinstance(returned, tuple) or len(returned) != n:
            raise InterfaceError(
                f"{where} declares {n} outputs ({', '.join(self.outputs)}) but returned "
                f"{type(returned).__name__}; return a tuple of {n} values"
            )
        return list(returned)


def default_named_tuple(names: list[str]) -> type:
    """The type of unnamed multiple outputs, printed like flytekit prints it."""
    return collections.namedtuple("DefaultNamedTupleOutput", names)  # type: ignore[misc]


def _is_named_tuple(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


def extract_interface(fn: Any, what: str) -> PythonInterface:
    """Read the annotated signature of ``fn``; ``what`` names it in errors."""
    try:
        hints = _type_hints(fn)
    except NameError as e:
        raise InterfaceError(f"{what}: cannot resolve a type annotation: {e}") from e
    inputs: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise InterfaceError(
                f"{what}: *{p.name} / **{p.name} are not supported; declare each input "
                "as a named, annotated parameter"
            )
        if p.name not in hints:
            raise InterfaceError(
                f"{what}: input '{p.name}' has no type annotation; annotate it, "
                f"e.g. '{p.name}: int'"
            )
        inputs[p.name] = hints[p.name]
        if p.default is not p.empty:
            defaults[p.name] = p.default
    ret = hints.get("return", None)
    outputs: dict[str, Any]
    output_tuple: type | None = None
    if ret is None or ret is type(None):
        outputs = {}
    elif _is_named_tuple(ret):
        outputs = dict(typing.get_type_hints(ret))
        output_tuple = ret
    elif isinstance(ret, tuple):
        # ``-> (float, str)``: a tuple of types, not a type; flytekit reads it as tuple[...].
        if len(ret) == 1:
            raise InterfaceError(
                f"{what}: return annotation ({_name(ret[0])},) lists one type; a tuple of types "
                f"declares several outputs: annotate one output as '-> {_name(ret[0])}'"
            )
        outputs = {f"o{i}": a for i, a in enumerate(ret)}
        output_tuple = default_named_tuple(list(outputs)) if outputs else None
    elif typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        if not args or args[-1] is Ellipsis:
            raise InterfaceError(
                f"{what}: return type {ret} must list each output, like tuple[int, str]"
            )
        outputs = {f"o{i}": a for i, a in enumerate(args)}
        output_tuple = default_named_tuple(list(outputs))
    else:
        outputs = {"o0": ret}
    iface = PythonInterface(inputs, defaults, outputs, output_tuple)
    to_spec_interface(iface, what)  # fail now on unsupported types or bad defaults
    return iface


def _name(t: Any) -> str:
    return t.__name__ if isinstance(t, type) else repr(t)


def _type_hints(fn: Any) -> dict[str, Any]:
    """``typing.get_type_hints``, and ``-> (float, str)`` under ``from __future__ import
    annotations`` too: typing refuses a tuple of types given as text."""
    annotations = getattr(fn, "__annotations__", {})
    ret = annotations.get("return")
    if not (isinstance(ret, str) and ret.lstrip().startswith("(")):
        return typing.get_type_hints(fn, include_extras=True)
    rest = types.SimpleNamespace(
        __annotations__={k: v for k, v in annotations.items() if k != "return"},
        __globals__=getattr(inspect.unwrap(fn), "__globals__", {}))
    hints = typing.get_type_hints(rest, include_extras=True)
    # Evaluated as typing evaluates annotation text: in the function's module.
    hints["return"] = eval(ret, dict(rest.__globals__))  # noqa: S307
    return hints


def kwtypes(**kwargs: Any) -> collections.OrderedDict[str, Any]:
    """Name-to-type mapping, as flytekit's ``kwtypes``."""
    return collections.OrderedDict(kwargs)


def to_spec_interface(iface: PythonInterface, what: str) -> Interface:
    """The spec form of an interface, with defaults as JSON literals."""
    inputs = []
    for name, t in iface.inputs.items():
        lt = _literal_type(t, f"{what}: input '{name}'")
        if name in iface.defaults:
            default = iface.defaults[name]
            reason = TypeEngine.check(default, t)
            if reason:
                raise InterfaceError(f"{what}: default of input '{name}': {reason}")
            try:
                data = TypeEngine.to_json(default, t)
            except TypeError as e:
                raise InterfaceError(f"{what}: default of input '{name}': {e}") from e
            inputs.append(Variable(name, lt, True, data))
        else:
            inputs.append(Variable(name, lt))
    outputs = [
        Variable(name, _literal_type(t, f"{what}: output '{name}'"))
        for name, t in iface.outputs.items()
    ]
    return Interface(tuple(inputs), tuple(outputs))


def _literal_type(t: Any, where: str) -> Any:
    try:
        return TypeEngine.to_literal_type(t)
    except InterfaceError as e:
        raise InterfaceError(
            f"{where}: {e}; supported are int, float, str, bool, bytes, datetime, "
            "timedelta, Enum, list[T], dict[str, T], Optional[T], dataclasses and "
            "pandas.DataFrame"
        ) from None


def entity_name(fn: Any) -> str:
    """Default name of a task or workflow: ``module.qualname``, the file's stem for scripts."""
    module = fn.__module__
    if module == "__main__":
        module = inspect.getmodulename(inspect.getfile(fn)) or module
    return f"{module}.{fn.__qualname__}"


def bind_inputs(
    what: str, iface: PythonInterface, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Input values by name, defaults applied, each checked against its declared type."""
    names = list(iface.inputs)
    if len(args) > len(names):
        raise InputValueError(f"{what} takes {len(names)} inputs but {len(args)} were given")
    bound = dict(zip(names, args, strict=False))
    for k, v in kwargs.items():
        if k not in iface.inputs:
            raise InputValueError(
                f"{what}: unknown input '{k}'; it takes {', '.join(names) or 'no inputs'}"
            )
        if k in bound:
            raise InputValueError(f"{what}: input '{k}' is given twice")
        bound[k] = v
    for name, default in iface.defaults.items():
        bound.setdefault(name, default)
    missing = [n for n in names if n not in bound]
    if missing:
        raise InputValueError(f"{what}: missing input(s) {', '.join(missing)}")
    for name in names:
        reason = TypeEngine.check(bound[name], iface.inputs[name])
        if reason:
            raise InputValueError(f"{what}: input '{name}': {reason}")
    return {n: bound[n] for n in names}
