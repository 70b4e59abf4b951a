"""Signals typed at the terminal: how a local run's ``wait_for_input`` and ``approve``
gates get their values.

One gate is asked at a time (the first to wait); the driver polls without blocking, so
the run's other nodes go on meanwhile. A value is parsed as ``flyray run`` parses the
workflow's inputs on the command line (:func:`engine.cli.params.param_type`); an
approval (and a bool) takes y/yes/true or n/no/false. Without a terminal (stdin not interactive),
such a gate fails at once, saying how to give the value.
"""

from __future__ import annotations

import os
import select
import sys
from typing import IO

import click

from engine.cli.params import param_type
from engine.dag.run.gate_steps import Signal
from engine.dag.spec import GateKind, GateSpec
from engine.types.guess import guess_python_type
from engine.types.literal import Simple, simple

_EOF = "\x04"  # what _line gives once the input closed (no line ends with it)
_YES = {"y", "yes", "true"}
_NO = {"n", "no", "false"}


class TerminalSignals:
    """The :class:`~engine.dag.run.gate_steps.SignalSource` of a local run.

    Args:
        stdin: where values are read (the process's stdin by default).
        out: where prompts go (default: ``sys.stderr`` as it is when a prompt is written,
            so that a live progress display that redirects it shows them).
        interactive: whether a person types into ``stdin`` (default: it is a terminal).
    """

    def __init__(self, stdin: IO[str] | None = None, out: IO[str] | None = None,
                 interactive: bool | None = None) -> None:
        # Both read only when a gate asks: most runs have none (and a process may have
        # no stdin at all).
        self._stdin = stdin
        self._out = out
        self._interactive = interactive
        self._queue: list[str] = []  # gates waiting for the terminal; the first is asked
        self._asked: str | None = None  # the gate whose prompt is on the terminal
        self._typed = ""  # read from stdin, not yet taken as a line

    def begin(self, node_id: str, gate: GateSpec, now: float) -> float:
        if gate.signal_type is not None:
            self._queue.append(node_id)
        return now

    def poll(self, node_id: str, gate: GateSpec) -> Signal | None:
        stdin = self._stdin or sys.stdin
        interactive = self._interactive
        if interactive is None:
            interactive = stdin is not None and stdin.isatty()
        if not interactive:
            return Signal(failure=(
                f"{gate.label} needs a value: run interactively (stdin is not a terminal), "
                f"or run --remote and send it with `flyray signal set EXECUTION {gate.name} "
                "VALUE`"))
        if not self._queue or self._queue[0] != node_id:
            return None  # another gate has the terminal
        if self._asked != node_id:
            self._prompt(node_id, gate)
        line = self._line(stdin)
        if line is None:
            return None
        if line is _EOF:
            return Signal(failure=f"{gate.label}: the terminal closed (end of input) "
                                  "before a value was given")
        return self._parse(node_id, gate, line.strip())

    def _line(self, stdin: IO[str]) -> str | None:
        """The next line typed, without blocking: None while none is complete, _EOF once
        the input closed. Read from the file descriptor (a buffered reader would take
        lines ahead that ``select`` then no longer sees)."""
        while "\n" not in self._typed:
            if not select.select([stdin], [], [], 0)[0]:
                return None
            chunk = os.read(stdin.fileno(), 4096)
            if not chunk:
                return _EOF if not self._typed else self._take(len(self._typed))
            self._typed += chunk.decode(errors="replace")
        return self._take(self._typed.index("\n") + 1)

    def _take(self, count: int) -> str:
        line, self._typed = self._typed[:count], self._typed[count:]
        return line

    def end(self, node_id: str, gate: GateSpec) -> None:
        if node_id in self._queue:
            self._queue.remove(node_id)
        if self._asked == node_id:
            self._asked = None

    def _prompt(self, node_id: str, gate: GateSpec) -> None:
        self._asked = node_id
        if gate.kind is GateKind.APPROVE:
            question = "approve? [y/n]"
        else:
            question = f"a value of type {gate.signal_type}"
        self._write(f"\n{gate.label} (node '{node_id}') waits for {question}: ")

    def _write(self, text: str) -> None:
        out = self._out or sys.stderr
        out.write(text)
        out.flush()

    def _parse(self, node_id: str, gate: GateSpec, text: str) -> Signal | None:
        """The signal in ``text``; None (and the gate asked again) when it is not one."""
        if gate.signal_type == simple(Simple.BOOLEAN):  # an approval, or a bool value
            if text.lower() in _YES | _NO:
                return Signal(text.lower() in _YES)
            reason = f"answer y or n, not {text!r}"
        else:
            assert gate.signal_type is not None  # an INPUT gate's type
            try:
                return Signal(param_type(guess_python_type(gate.signal_type))
                              .convert(text, None, None))
            except click.BadParameter as e:
                reason = e.message
        self._write(f"{gate.label}: {reason}\n")
        self._prompt(node_id, gate)
        return None
