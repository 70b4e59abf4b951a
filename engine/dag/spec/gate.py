"""Gate nodes in the compiled form: a node that waits, in the driver, for time to pass
(``sleep``), for a typed value (``wait_for_input``) or for an approval (``approve``).

A gate runs no task: its node's ``task`` is "" and its ``gate`` says what it waits for.
Plain data, as every spec module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from engine.types.literal import LiteralType, Simple, simple

# The name of a gate's output (wait_for_input's value, approve's upstream value), and of
# approve's input (the value it passes through).
GATE_OUTPUT = "o0"
APPROVE_INPUT = "upstream"


class GateKind(str, Enum):
    """What a gate waits for (flytekit's function names)."""

    SLEEP = "sleep"  # ``duration_s`` to pass
    INPUT = "wait_for_input"  # a value of ``type``, sent as the signal ``name``
    APPROVE = "approve"  # a boolean signal ``name``: True passes, False rejects


@dataclass(frozen=True)
class GateSpec:
    """What a gate node waits for.

    Invariant: ``name`` is set (a signal id) exactly for INPUT and APPROVE; ``duration_s``
    exactly for SLEEP; ``timeout_s`` for INPUT and APPROVE; ``type`` is the gate's output
    type: INPUT's expected type, APPROVE's upstream value type (None when it gates a node
    with no outputs), None for SLEEP.
    """

    kind: GateKind
    name: str = ""
    duration_s: float | None = None
    timeout_s: float | None = None
    type: LiteralType | None = None

    @property
    def signal_type(self) -> LiteralType | None:
        """The type of the value a signal gives this gate (None: it takes no signal)."""
        if self.kind is GateKind.INPUT:
            return self.type
        if self.kind is GateKind.APPROVE:
            return simple(Simple.BOOLEAN)
        return None

    @property
    def label(self) -> str:
        """How records and messages name the gate: "sleep", "approve 'deploy'"."""
        return self.kind.value if self.kind is GateKind.SLEEP \
            else f"{self.kind.value} '{self.name}'"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "duration_s": self.duration_s,
                "timeout_s": self.timeout_s,
                "type": self.type.to_dict() if self.type is not None else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateSpec:
        return cls(GateKind(d["kind"]), d["name"], d["duration_s"], d["timeout_s"],
                   LiteralType.from_dict(d["type"]) if d["type"] is not None else None)
