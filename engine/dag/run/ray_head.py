"""A Ray head of Flyray's own: Ray's processes on 127.0.0.1, in a session of their own.

``flyray demo`` and the local cluster of a Flyray home (``flyray cluster start``, the
warm runtime) start their heads alike: :mod:`engine.dag.run.head_node` in a new session
(so that stopping ends every process Ray starts under it, and nothing else: never ``ray
stop``, which ends every Ray process of the machine), with a temp dir of their own (so
that a plain ``ray.init()`` elsewhere does not find them through ``/tmp/ray``), every
process listening on 127.0.0.1 only, on free ports, with Ray's output in a log file.
This module holds those shared pieces; it starts nothing by itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.config import Settings
from engine.dag.run.spilling import local_cluster_options

# Ray's socket paths (<temp>/session_<time>_<pid>/sockets/plasma_store) must fit in 107
# bytes; a temp dir longer than this moves to /tmp.
_MAX_TEMP_DIR = 40
_READY_TIMEOUT_S = 120.0
_READY_POLL_S = 0.05  # a file's existence: cheap to ask, and every start waits on it
_STOP_GRACE_S = 3.0
# Asking a local endpoint whether it answers: never through an HTTP proxy of the
# environment (http_proxy would send 127.0.0.1 to the proxy).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class HeadPorts:
    """The ports of a head that Ray would otherwise take at fixed numbers (6379, 8265,
    52365), which a second head on the machine would then find taken."""

    gcs: int
    dashboard: int
    agent: int  # the dashboard agent's HTTP port: the job agent (``ray job submit``)

    @classmethod
    def free(cls) -> HeadPorts:
        return cls(free_port(), free_port(), free_port())


def port_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections closing there, in TIME_WAIT, do not
    count: servers bind with SO_REUSEADDR, and so does this check)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on now (the system's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(address: str, timeout: float = 1.0) -> bool:
    """Something accepts TCP connections at ``host:port``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def short_temp_dir(wanted: Path) -> Path:
    """``wanted``, or a directory of its own under /tmp when Ray's socket paths under
    ``wanted`` would be too long."""
    if len(str(wanted)) <= _MAX_TEMP_DIR:
        return wanted
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:10]
    return Path("/tmp") / f"flyray-ray-{digest}"


def head_command(temp_dir: Path, ports: HeadPorts, extra: list[str]) -> list[str]:
    """The head's process (:mod:`engine.dag.run.head_node`) on ``ports``, then ``extra``:
    options of ``ray start`` it takes, as :func:`resource_args` gives them."""
    return [sys.executable, "-m", "engine.dag.run.head_node", "--temp-dir", str(temp_dir),
            "--port", str(ports.gcs), "--dashboard-port", str(ports.dashboard),
            "--agent-port", str(ports.agent), *extra]


def resource_args(settings: Settings, num_cpus: int | None = None,
                  num_gpus: int | None = None) -> list[str]:
    """``ray start`` options (which the head's process takes) for the resources, object
    store and spilling of a head;
    ``num_cpus`` defaults to the ``ray_num_cpus`` setting. The head outlives this
    process, so S3 spilling is not cleaned up at its exit."""
    args: list[str] = []
    cpus = settings.ray_num_cpus if num_cpus is None else num_cpus
    if cpus is not None:
        args += ["--num-cpus", str(cpus)]
    if num_gpus is not None:
        args += ["--num-gpus", str(num_gpus)]
    options = local_cluster_options(settings, clean_up=False)
    if "object_store_memory" in options:
        args += ["--object-store-memory", str(options["object_store_memory"])]
    if "_system_config" in options:
        args += ["--system-config", json.dumps(options["_system_config"])]
    return args


def launch(command: list[str], env: Mapping[str, str], cwd: Path,
           log: Path) -> subprocess.Popen[bytes]:
    """Run ``command`` in a session of its own, its output to ``log``, from ``cwd``.

    Its own session, so that stopping can end every process started under it, and no
    signal of the caller's terminal (Ctrl-C) reaches it; its own directory, so that no
    Ray worker runs in (or imports from) the caller's.
    """
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


@contextlib.contextmanager
def single_machine() -> Iterator[None]:
    """Ray's single-machine mode for the block: a driver connecting to a head on
    127.0.0.1 (``ray.init(address=...)``). Outside it, on Linux, Ray swaps 127.0.0.1 for
    the machine's network address, where such a head does not listen; it reads the mode
    from the environment once, at import. Once connected, Ray takes addresses from the
    node."""
    from ray._private import ray_constants  # Ray only for those that connect

    previous = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous


def wait_until_up(process: subprocess.Popen[bytes], temp_dir: Path,
                  endpoints: Mapping[str, str], timeout: float = _READY_TIMEOUT_S) -> str | None:
    """Wait until the head ``process`` started has written its address to ``temp_dir``
    (it does once every process of the node is up) and every URL of
    ``endpoints`` (part name -> URL) answers; why not, or None once it has."""
    deadline = time.monotonic() + timeout
    waiting = dict(endpoints)
    while True:
        if process.poll() is not None:
            return f"exited with status {process.returncode}"
        if (temp_dir / "ray_current_cluster").is_file():
            waiting = {part: url for part, url in waiting.items() if not _answers(url)}
            if not waiting:
                return None
        if time.monotonic() > deadline:
            if not (temp_dir / "ray_current_cluster").is_file():
                return f"was not up after {timeout:.0f} s"
            return (f"started, but its {' and '.join(waiting)} did not answer within "
                    f"{timeout:.0f} s ({', '.join(waiting.values())})")
        time.sleep(_READY_POLL_S)


def _answers(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2) as reply:
            return int(reply.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def tail(path: str | Path, lines: int = 15) -> str:
    """The last ``lines`` of a log file."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def runs(pid: int, marker: str) -> bool:
    """The process ``pid`` runs, and is the one started (its command line holds
    ``marker``), not another that reused the pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the pid
    return marker.encode() in cmdline


def session_members(sid: int) -> list[int]:
    """Live processes of the session ``sid``: the head and everything Ray started under
    it (its workers lead process groups of their own, but stay in the head's session).
    Zombies (ended, not yet collected by their parent) are not counted."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # After "pid (comm)": state, ppid, pgrp, session.
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_session(sid: int) -> None:
    """End every process of the session ``sid`` but the calling one: politely, then for
    good."""
    _signal_all(sid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    while time.monotonic() < deadline:
        _reap(sid)
        if not _left(sid):
            return
        time.sleep(0.2)
    # Ray's workers run their exit handlers slowly; nothing of value is lost: what Flyray
    # keeps (catalog, admin database, blobs) lives outside the cluster, transactionally.
    _signal_all(sid, signal.SIGKILL)
    deadline = time.monotonic() + _STOP_GRACE_S
    while _left(sid) and time.monotonic() < deadline:
        _reap(sid)
        time.sleep(0.1)


def _others(sid: int) -> list[int]:
    """The session's live processes but this one (a keeper stops its own session)."""
    return [pid for pid in session_members(sid) if pid != os.getpid()]


def _left(sid: int) -> bool:
    """Some process of the session, other than this one, still runs."""
    if Path("/proc").is_dir():
        return bool(_others(sid))
    try:  # no /proc (macOS): the leader's process group is all that can be seen
        os.killpg(sid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return os.getpgid(0) != sid


def _signal_all(sid: int, signum: int) -> None:
    """Send ``signum`` to every other process of the session ``sid``."""
    if os.getpgid(0) != sid:  # not the caller's own group: signal the group whole
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signum)
    for pid in _others(sid) if Path("/proc").is_dir() else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    _reap(sid)


def _reap(pid: int) -> None:
    """Collect the head's exit status when this process started it (no zombie left)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
