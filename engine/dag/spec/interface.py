"""Typed interfaces: the inputs and outputs of a task, a workflow or a branch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.types.literal import LiteralType


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
