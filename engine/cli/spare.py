"""The spare driver of a home's warm runtime: one ``flyray run``, prepared in advance.

``python -m engine.cli.spare --state PATH`` starts in the background after a run on the
home's local cluster (see :func:`provide`). It imports Flyray and the packages recent runs
imported, connects to the cluster as a Ray driver and has Ray start the job's workers with
the same imports done, then waits on a Unix socket in the cluster's directory for one
``flyray run`` (:mod:`engine.cli.spare_client`). It runs that command with the client's
working directory, environment and terminal, reports the exit status, starts its
successor and exits: every command gets a fresh process, as without a spare.

A spare serves only a run like the one it was prepared for: same Python and Flyray code,
same Flyray and Ray settings, same working directory (Ray gives a job's workers the
driver's directory on their import path). Otherwise it steps aside, and exits so that
the run, done the usual way, leaves a spare for its own setting.

Invariants: it serves one command at most; only its own user reaches its socket (mode
0600, and the peer's uid checked); it exits with the cluster (its keeper gone); while it
serves, the cluster does not count as idle (see :func:`engine.dag.run.local_cluster.idle_since`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR

from engine.cli import spare_client
from engine.config import Settings, load_settings
from engine.dag.run import local_cluster, ray_head
from engine.dag.run.local_cluster import ClusterState

# Packages that a spare imports ahead, learned from the runs it served (see _learn).
_IMPORTS_FILE = "spare-imports.json"
_MAX_IMPORTS = 40
_POLL_S = 1.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine.cli.spare")
    parser.add_argument("--state", type=Path, required=True, help="the cluster's state.json")
    return parser


def provide(settings: Settings) -> None:
    """Start a spare for the home's running local cluster, unless one runs or starts.

    Called after a run that used the cluster; the spare starts in the background, in a
    session of its own, its output in the cluster's directory.
    """
    directory = local_cluster.cluster_dir(settings)
    state = ClusterState.load(local_cluster.state_path(settings))
    if state is None or local_cluster.spare_pid(directory) is not None:
        return
    _spawn(directory, spare_client.LAUNCH_ENVIRONMENT, os.getcwd())


def _spawn(directory: Path, environ: dict[str, str], cwd: str) -> None:
    env = {k: v for k, v in environ.items() if k != RAY_JOB_CONFIG_JSON_ENV_VAR}
    with open(directory / "spare.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", local_cluster.SPARE_MODULE, "--state",
             str(directory / "state.json")],
            env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    (directory / "spare.pid").write_text(str(process.pid))


def _say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} flyray spare {os.getpid()}: {message}",
          flush=True)


class Spare:
    """One prepared driver (see the module's docstring)."""

    def __init__(self, state: ClusterState, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.directory = local_cluster.cluster_dir(settings)
        self.environ = dict(os.environ)
        self.key = spare_client.environment_key(self.environ)
        self.cwd = os.getcwd()
        self.stamp = code_stamp()
        self.baseline: set[str] = set()

    def prepare(self) -> None:
        """Import ahead, connect, and warm the job's workers."""
        learned = self._learned()
        for name in learned:
            try:
                importlib.import_module(name)
            except Exception as e:  # noqa: BLE001 - a package that no longer imports
                _say(f"not importing {name} ahead: {type(e).__name__}: {e}")
        importlib.import_module("engine.cli.run")
        importlib.import_module("engine.cli.progress")
        importlib.import_module("engine.dag.run.executor")
        self.baseline = set(sys.modules)
        local_cluster.connect(self.state, self.settings, {
            "log_to_driver": self.settings.log_to_driver,
            "logging_level": "WARNING",
            "job_config": ray.job_config.JobConfig(
                metadata={local_cluster.SPARE_METADATA: str(os.getpid())}),
        })
        cpus = max(1, min(8, int(ray.cluster_resources().get("CPU", 1))))
        ray.get([_warm_worker.remote(learned) for _ in range(cpus)])

    def _learned(self) -> list[str]:
        try:
            names = json.loads((self.directory / _IMPORTS_FILE).read_text())
        except (OSError, ValueError):
            return []
        return [n for n in names if isinstance(n, str)][:_MAX_IMPORTS]

    def why_not(self, request: dict[str, Any]) -> str | None:
        """Why this spare cannot serve ``request``; None when it can."""
        if request.get("interpreter") != spare_client.interpreter():
            return "another Python"
        theirs = spare_client.environment_key(request.get("env") or {})
        if theirs != self.key:
            names = sorted(k for k in {*theirs, *self.key} if theirs.get(k) != self.key.get(k))
            return f"other Flyray or Ray settings ({', '.join(names)})"
        if request.get("cwd") != self.cwd:
            return "another working directory"
        if code_stamp() != self.stamp:
            return "Flyray's code changed since it started"
        return None

    def learn(self) -> None:
        """Record the installed packages the served command imported, for the next spare."""
        prefixes = tuple(p for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)
        new = []
        for name in sorted(set(sys.modules) - self.baseline):
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None) or ""
            top = name.partition(".")[0]
            if "." in name or top.startswith("_") or not file.startswith(prefixes):
                continue
            if file.startswith(self.cwd + os.sep):  # the user's own code: never ahead
                continue
            new.append(top)
        names = list(dict.fromkeys([*new, *self._learned()]))[:_MAX_IMPORTS]
        (self.directory / _IMPORTS_FILE).write_text(json.dumps(names))


@ray.remote(num_cpus=1, max_retries=0)
def _warm_worker(modules: list[str]) -> int:
    """Import in a worker of the spare's job what the run's tasks will import."""
    importlib.import_module("engine.dag.run.worker")
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - the driver said which failed, once
            continue
    time.sleep(0.2)  # held a moment, so that each call has a worker of its own
    return os.getpid()


def code_stamp() -> str:
    """Flyray's source files and their modification times, digested: a spare serves
    only the code it imported (an editable install changes under it)."""
    root = Path(__file__).resolve().parents[1]
    stamps = sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*.py"))
    return str(hash(tuple(stamps)))


def _listen(path: Path) -> socket.socket:
    """Bind the spare's socket, readable and writable by this user only."""
    path.unlink(missing_ok=True)  # a dead spare's: only one spare runs (provide() checks)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(4)
    listener.settimeout(_POLL_S)
    return listener


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


@dataclass
class Client:
    """A client whose command this spare runs: its connection and descriptors 0-2."""

    conn: socket.socket
    reader: spare_client.LineReader
    request: dict[str, Any]
    fds: list[int]


def _take(spare: Spare, listener: socket.socket) -> Client | None:
    """Wait for a client whose run this spare serves; None once the cluster is gone or
    the spare steps aside."""
    while True:
        if not local_cluster.runs(spare.state):
            _say("the cluster has stopped: exiting")
            return None
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(spare_client.ACCEPT_TIMEOUT_S)
        fds: list[int] = []
        try:
            if not _same_user(conn):
                raise ValueError("a client of another user")
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
            reader = spare_client.LineReader(conn, data)
            request = reader.next()
            if request is None or len(fds) != 3:
                raise ValueError("an unreadable request")
            why = spare.why_not(request)
            if why is None and not _cluster_up(spare.state):
                why = "its cluster no longer running"
            if why is not None:
                spare_client.send_line(conn, {"accept": False, "why": why})
                _say(f"stepping aside for a run with {why}")
                _drop(conn, fds)
                return None
            spare_client.send_line(conn, {"accept": True})
            go = reader.next()
            if not go or not go.get("go"):
                raise ValueError("the client gave up before its run started")
        except (OSError, ValueError) as e:
            _say(f"not serving a client: {e}")
            _drop(conn, fds)
            continue
        conn.settimeout(None)
        return Client(conn, reader, request, fds)


def _cluster_up(state: ClusterState) -> bool:
    """The cluster still runs and answers: checked again as a client comes, since a
    cluster killed a moment ago would end this driver in the middle of the run."""
    return local_cluster.runs(state) and ray_head.listening(state.gcs_address)


def _drop(conn: socket.socket, fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
    conn.close()


def _serve(spare: Spare, client: Client) -> int:
    """Run the client's command as if in its own process; its exit status. Leaves the
    client's descriptors closed (the command's output ends with it)."""
    _say(f"serving: flyray {' '.join(client.request['argv'])}")
    os.chdir(client.request["cwd"])
    os.environ.clear()
    os.environ.update(client.request["env"])
    for target, fd in enumerate(client.fds):
        os.dup2(fd, target)
        os.close(fd)
    _reopen_std_streams()
    ended = threading.Event()
    threading.Thread(target=_relay_signals, args=(client.reader, ended), daemon=True).start()
    argv = list(client.request["argv"])
    sys.argv = ["flyray", *argv]
    from engine.cli.main import cli  # imported in prepare(): the command's own modules

    try:
        cli.main(args=argv, prog_name="flyray", standalone_mode=True)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 - reported on the client's terminal, as a CLI would
        traceback.print_exc()
        code = 1
    ended.set()
    # An interrupt that comes too late: the run has ended. SIGTERM keeps its default:
    # flyray cluster stop ends a spare with it.
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _let_go_of_terminal(spare.directory / "spare.log")
    return code


def _reopen_std_streams() -> None:
    """Python's standard streams over the client's descriptors, buffered as Python
    buffers them for a terminal or a pipe (stderr: by line)."""
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - lives on
    for name, fd in (("stdout", 1), ("stderr", 2)):
        by_line = name == "stderr" or os.isatty(fd)
        stream = open(fd, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False, buffering=1 if by_line else -1)
        setattr(sys, name, stream)


def _let_go_of_terminal(log: Path) -> None:
    """Flush and close the client's descriptors: whoever reads the command's output
    sees its end once the client exits."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)


def _relay_signals(reader: spare_client.LineReader, ended: threading.Event) -> None:
    """Deliver the client's signals to this process while its command runs; the end of
    the client's stream (it was killed) as an interrupt."""
    while True:
        try:
            message = reader.next()
        except (OSError, ValueError):
            message = None
        if ended.is_set():
            return
        if message is None:
            os.kill(os.getpid(), signal.SIGINT)
            return
        if "signal" in message:
            os.kill(os.getpid(), int(message["signal"]))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    state = ClusterState.load(args.state)
    directory = args.state.parent
    pid_file = directory / "spare.pid"
    pid_file.write_text(str(os.getpid()))
    if state is None or not local_cluster.runs(state):
        _say("no cluster to serve: exiting")
        return 0
    serving = threading.Event()
    threading.Thread(target=_exit_with_cluster, args=(state, serving), daemon=True).start()
    spare = Spare(state, settings)
    spare.prepare()
    path = spare_client.socket_path(state.temp_dir)
    listener = _listen(path)
    _say(f"ready at {path} for runs from {spare.cwd}")
    try:
        client = _take(spare, listener)
    finally:
        listener.close()
        path.unlink(missing_ok=True)
    if client is None:
        pid_file.unlink(missing_ok=True)
        return 0
    busy = local_cluster.spare_busy(directory)
    busy.write_text(str(os.getpid()))
    serving.set()
    try:
        code = _serve(spare, client)
        with contextlib.suppress(OSError):
            spare_client.send_line(client.conn, {"exit": code})
        client.conn.close()
        spare.learn()
    finally:
        busy.unlink(missing_ok=True)
        local_cluster.spare_idle(directory)
    serving.clear()
    ray.shutdown()
    if ClusterState.load(args.state) == state and local_cluster.runs(state):
        _spawn(directory, spare.environ, spare.cwd)
    return 0


def _exit_with_cluster(state: ClusterState, serving: threading.Event) -> None:
    """End this process once its cluster has stopped, unless it serves a run (which then
    fails as a run of its own would): a spare preparing or waiting would otherwise wait
    for a cluster that is gone (Ray retries its connection for minutes)."""
    while True:
        time.sleep(_POLL_S)
        if not serving.is_set() and not local_cluster.runs(state):
            _say("the cluster has stopped: exiting")
            os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
