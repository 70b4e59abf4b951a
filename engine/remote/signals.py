"""Signals of gate nodes, from Python: flytekit's ``FlyteRemote.set_signal`` and
``FlyteRemote.list_signals``, against ``/api/v1/signals``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EntityNotFoundError
from engine.remote._admin import Lookup, path_of
from engine.remote.entities import parse_time
from engine.types.guess import guess_python_type
from engine.types.literal import LiteralType
from engine.types.type_engine import TypeEngine


@dataclass(frozen=True)
class Signal:
    """A gate of an execution (``sleep``, ``wait_for_input``, ``approve``) and its signal."""

    node_id: str
    kind: str  # sleep, wait_for_input or approve
    signal_id: str  # "" for a sleep
    type: LiteralType | None  # the signal's type
    phase: str  # the gate node's phase: WAITING while it waits
    waiting_since: dt.datetime | None
    is_set: bool
    value: Any  # the signal's value (JSON), once set
    reply: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, reply: dict[str, Any]) -> Signal:
        literal = LiteralType.from_dict(reply["type"]) if reply.get("type") else None
        return cls(reply["node_id"], reply["kind"], reply["signal_id"], literal,
                   reply["phase"], parse_time(reply.get("waiting_since")), reply["is_set"],
                   reply.get("value"), reply)


class Signals(Lookup):
    """The signal calls of :class:`~engine.remote.FlyteRemote`."""

    # Set by FlyteRemote: where a call names no project or domain.
    default_project: str
    default_domain: str

    def list_signals(self, execution_name: str, project: str | None = None,
                     domain: str | None = None) -> list[Signal]:
        """The gates of execution ``execution_name``, in the workflow's order."""
        where = self._where(execution_name, project, domain)
        with self.about(f"execution {where}"):
            reply = self.client.get(f"/api/v1/signals/{path_of(where)}")
        return [Signal.of(s) for s in reply["signals"]]

    def set_signal(self, signal_id: str, execution_name: str, value: Any,
                   project: str | None = None, domain: str | None = None,
                   python_type: Any = None) -> Signal:
        """Set the signal ``signal_id`` of execution ``execution_name`` to ``value`` (a
        Python value, written as ``python_type`` when given, else as the gate's type);
        the gate waiting for it goes on. An approval's value is True or False.

        Raises:
            EntityNotFoundError: the execution has no gate of that name.
            AdminRequestError: the value is not of the gate's type (400), or the signal
                is set already (409).
        """
        project, domain = project or self.default_project, domain or self.default_domain
        if python_type is None:
            python_type = self._python_type(signal_id, execution_name, project, domain)
        body = {"id": {"execution_id": {"project": project, "domain": domain,
                                        "name": execution_name},
                       "signal_id": signal_id},
                "value": TypeEngine.to_json(value, python_type)}
        with self.about(f"signal {signal_id!r} of execution {execution_name}"):
            return Signal.of(self.client.post("/api/v1/signals", body).body)

    def _python_type(self, signal_id: str, execution_name: str, project: str,
                     domain: str) -> Any:
        for gate in self.list_signals(execution_name, project, domain):
            if gate.signal_id == signal_id and gate.type is not None:
                return guess_python_type(gate.type)
        raise EntityNotFoundError(f"execution {project}/{domain}/{execution_name} has no gate "
                                  f"waiting for the signal {signal_id!r}")

    def _where(self, name: str, project: str | None, domain: str | None) -> str:
        return f"{project or self.default_project}/{domain or self.default_domain}/{name}"
