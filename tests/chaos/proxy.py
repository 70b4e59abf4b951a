"""A loopback TCP proxy that makes a server slow or flaky (the F7 scenario puts it
between Flyray's S3 endpoint setting and moto): netem is not available here.

Each accepted connection is piped to the upstream server by two threads. The faults,
changeable while it runs: ``delay_s`` before each chunk is passed on (a slow link), and
``reset_every`` (every Nth connection is reset at once with a TCP RST, as a dropped
connection is). Loopback only, bounded: at most ``max_connections`` at a time (more
are refused), and :meth:`close` ends every thread it started.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

CHUNK = 64 * 1024


class FlakyProxy:
    """``url`` forwards to ``127.0.0.1:upstream_port`` with the faults set on it."""

    def __init__(self, upstream_port: int, *, delay_s: float = 0.0, reset_every: int = 0,
                 max_connections: int = 64) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.reset_every = reset_every
        self.max_connections = max_connections
        self.connections = 0  # accepted so far
        self.resets = 0  # of them reset on purpose
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            self.connections += 1
            with self._lock:
                crowded = len(self._open) >= 2 * self.max_connections
            if crowded or (self.reset_every and self.connections % self.reset_every == 0):
                self.resets += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 5)
            except OSError:  # the upstream is down: so is the proxied endpoint
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            self._start(self._pipe, client, upstream)
            self._start(self._pipe, upstream, client)

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        source.settimeout(0.5)
        try:
            while not self._closed.is_set():
                try:
                    data = source.recv(CHUNK)
                except TimeoutError:
                    continue
                if not data:
                    break
                if self.delay_s:
                    time.sleep(self.delay_s)
                target.sendall(data)
        except OSError:
            pass  # either side went away: close both
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
                with self._lock:
                    self._open.discard(end)

    def close(self) -> None:
        """Stop accepting, close every connection and wait for every thread."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            for end in list(self._open):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FlakyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reset(connection: socket.socket) -> None:
    """Close ``connection`` with an RST (linger 0), as a dropped connection ends."""
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
