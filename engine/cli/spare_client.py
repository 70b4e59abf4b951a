"""Handing a ``flyray run`` to the spare driver of the home's warm runtime.

The spare driver (:mod:`engine.cli.spare`) is a process that has already imported
Flyray, connected to the home's local cluster and warmed its workers. A ``flyray run``
that would run on that cluster hands it its command line, working directory,
environment and terminal (file descriptors 0, 1 and 2, passed over a Unix socket), then
only relays signals and waits for the exit status. Everything the command prints goes
from the spare straight to the terminal, so the command behaves as it would here.

This module runs before any heavy import of the CLI and imports nothing heavy itself.

Protocol, one JSON object per line on the socket:

1. client -> spare: the request (:func:`request`), with the descriptors attached;
2. spare -> client: ``{"accept": true}``, or ``{"accept": false, "why": ...}`` (the
   client then runs the command itself);
3. client -> spare: ``{"go": true}``: only then does the spare run the command, so a
   client that gave up waiting never has it run twice;
4. client -> spare: ``{"signal": N}`` for each SIGINT, SIGTERM or SIGHUP it receives;
5. spare -> client: ``{"exit": CODE}`` once the command has ended and the spare has let
   go of the descriptors.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any

SOCKET_NAME = "spare.sock"
# The environment this process started with, before Flyray and Ray set their own
# variables in it: what a spare prepared for runs like this one gets.
LAUNCH_ENVIRONMENT = dict(os.environ)
# Seconds to wait for the spare to accept: it answers at once when it is idle.
ACCEPT_TIMEOUT_S = 5.0
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Options that the spare cannot honour: a remote run has nothing to gain, and --envvars
# are part of the Ray job's configuration, fixed when the spare connected.
_OWN_WAY = frozenset({"--remote", "-e", "--envvars"})


# Set by Ray in its own process when it is imported: not a setting of the user's.
_SET_BY_RAY = frozenset({"RAY_CLIENT_MODE"})


def environment_key(environ: dict[str, str]) -> dict[str, str]:
    """The variables a spare must share with a run that it serves: Flyray's and Ray's
    settings, and what decides which Python code is imported."""
    return {k: v for k, v in environ.items()
            if (k.startswith(("FLYRAY_", "RAY_")) and k not in _SET_BY_RAY)
            or k in ("PYTHONPATH", "PYTHONHOME")}


def interpreter() -> dict[str, str]:
    return {"executable": os.path.realpath(sys.executable), "prefix": sys.prefix}


def socket_path(temp_dir: str) -> Path:
    return Path(temp_dir) / SOCKET_NAME


def wanted(argv: list[str]) -> bool:
    """Whether the command line ``argv`` (without the program) is a local ``flyray
    run`` that a spare could serve."""
    if not argv or argv[0] != "run":
        return False
    return not any(arg in _OWN_WAY or arg.startswith(("--envvars=", "-e=")) for arg in argv)


def request(argv: list[str]) -> dict[str, Any]:
    return {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
            "interpreter": interpreter()}


def send_line(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


class LineReader:
    """JSON lines from a socket."""

    def __init__(self, sock: socket.socket, received: bytes = b"") -> None:
        self._sock = sock
        self._buffer = received

    def next(self) -> dict[str, Any] | None:
        """The next message; None at the end of the stream."""
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message


def _spare_socket() -> Path | None:
    """The socket of the home's spare driver, when the settings would run there."""
    from engine.config import load_settings  # the settings (not Ray): cheap

    try:
        settings = load_settings()
    except Exception:  # noqa: BLE001 - the CLI itself reports bad settings, with context
        return None
    if settings.ray_address != "auto":
        return None
    state = settings.home.expanduser().resolve() / "cluster" / "state.json"
    try:
        temp_dir = json.loads(state.read_text())["temp_dir"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    path = socket_path(temp_dir)
    return path if path.exists() else None


def run_in_spare(argv: list[str]) -> int | None:
    """Run ``flyray ARGV`` in the home's spare driver: its exit status, or None when no
    spare took it (none runs, it serves another environment, or it did not answer), in
    which case the caller runs the command itself."""
    path = _spare_socket()
    if path is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(ACCEPT_TIMEOUT_S)
        sock.connect(str(path))
        socket.send_fds(sock, [json.dumps(request(argv)).encode() + b"\n"], [0, 1, 2])
        reader = LineReader(sock)
        answer = reader.next()
        if not answer or not answer.get("accept"):
            return None
        send_line(sock, {"go": True})
        sock.settimeout(None)
    except (OSError, ValueError):
        sock.close()
        return None
    return _relay(sock, reader)


def _relay(sock: socket.socket, reader: LineReader) -> int:
    """Forward signals to the spare until it reports the exit status."""

    forwarded: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        with contextlib.suppress(OSError):  # the spare has gone: its end of stream tells
            send_line(sock, {"signal": signum})

    previous = {s: signal.signal(s, forward) for s in FORWARDED_SIGNALS}
    try:
        while True:
            try:
                message = reader.next()
            except InterruptedError:
                continue
            except (OSError, ValueError):
                message = None
            if message is None and forwarded:  # it ended as the signal asked
                return 128 + forwarded[-1]
            if message is None:
                print("flyray: the warm runtime's driver ended without an exit status "
                      "(its log is next to the cluster's: flyray cluster status)",
                      file=sys.stderr)
                return 1
            if "exit" in message:
                return int(message["exit"])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
