"""The local demo control plane behind ``flyray demo``: a Ray head, the admin API on Serve.

The head is ``ray start --head --block`` in a session (process group) of its own, with
its own temp dir under the Flyray home; Serve apps are detached, so the process that
deploys the admin API (this one) may exit. What is running is written to
``$FLYRAY_HOME/demo/state.json``; stopping ends the head's process group and keeps the
data (the admin database and the blob store).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import make_url

from engine.admin_client import AdminClient, AdminRequestError
from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import Settings
from engine.dag.run.spilling import local_cluster_options
from engine.errors import FlyrayError

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost")
# Ray's socket paths (<temp>/session_<time>_<pid>/sockets/plasma_store) must fit in 107
# bytes; a temp dir longer than this moves to /tmp.
_MAX_TEMP_DIR = 40
_READY_TIMEOUT_S = 120.0
_STOP_GRACE_S = 3.0
# How long stopping waits for running executions to be handed back.
_DRAIN_TIMEOUT_S = 30.0


class DemoError(FlyrayError):
    """The demo cannot start or stop; the message says why and what to do."""


@dataclass(frozen=True)
class DemoState:
    """What a running demo is made of; saved as JSON next to its logs."""

    pid: int  # `ray start --head --block`: leader of the process group of every Ray process
    gcs_address: str  # host:port of the head, for ray.init(address=...)
    dashboard_url: str
    temp_dir: str  # Ray's temp dir of this head (sessions, logs, sockets)
    admin_endpoint: str
    log: str  # the head's stdout and stderr
    started_at: str  # ISO 8601, UTC

    @classmethod
    def load(cls, path: Path) -> DemoState | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))


@dataclass(frozen=True)
class Check:
    """One row of the readiness table."""

    component: str
    state: str
    ok: bool
    location: str


def demo_dir(settings: Settings) -> Path:
    return settings.home.expanduser().resolve() / "demo"


def state_path(settings: Settings) -> Path:
    return demo_dir(settings) / "state.json"


def _alive(state: DemoState) -> bool:
    """The saved head process still runs (and is that head, not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(state.pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the pid
    return state.temp_dir.encode() in cmdline


def current(settings: Settings) -> DemoState | None:
    """The running demo of this Flyray home, if any."""
    state = DemoState.load(state_path(settings))
    return state if state is not None and _alive(state) else None


def _port_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections closing there, in TIME_WAIT, do not
    count: servers bind with SO_REUSEADDR, and so does this check)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there, else a free port."""
    if preferred is not None and _port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_port(settings: Settings) -> int:
    """The port the demo serves the admin API on; the endpoint must be this machine."""
    parts = urlsplit(settings.admin_endpoint)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK or port is None:
        raise DemoError(f"the demo serves the admin API on this machine, so admin_endpoint "
                        f"must look like http://127.0.0.1:30080; it is "
                        f"{settings.admin_endpoint!r} (FLYRAY_ADMIN_ENDPOINT)")
    return port


def _temp_dir(settings: Settings) -> Path:
    wanted = demo_dir(settings) / "ray-tmp"  # not a module name: never imported
    if len(str(wanted)) <= _MAX_TEMP_DIR:
        return wanted
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:10]
    return Path("/tmp") / f"flyray-ray-{digest}"


def head_environment(settings: Settings) -> dict[str, str]:
    """The environment of every Ray process of the demo (workers read settings from it)."""
    return dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
                FLYRAY_HOME=str(settings.home.expanduser().resolve()))


def _head_command(settings: Settings, temp_dir: Path, gcs_port: int,
                  dashboard_port: int) -> list[str]:
    args = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
            "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
            "--port", str(gcs_port), "--temp-dir", str(temp_dir),
            "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(dashboard_port),
            # Ports other local clusters default to as well: take free ones.
            "--ray-client-server-port", str(_port()),
            "--dashboard-agent-listen-port", str(_port())]
    if settings.ray_num_cpus is not None:
        args += ["--num-cpus", str(settings.ray_num_cpus)]
    options = local_cluster_options(settings, clean_up=False)
    if "object_store_memory" in options:
        args += ["--object-store-memory", str(options["object_store_memory"])]
    if "_system_config" in options:
        args += ["--system-config", json.dumps(options["_system_config"])]
    return args


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_head(settings: Settings) -> DemoState:
    """Start the Ray head in the background; returns once it accepts drivers."""
    temp_dir = _temp_dir(settings)
    temp_dir.mkdir(parents=True, exist_ok=True)
    (temp_dir / "ray_current_cluster").unlink(missing_ok=True)
    gcs_port, dashboard_port = _port(6379), _port(8265)
    log = demo_dir(settings) / "ray-head.log"
    with open(log, "wb") as out:
        # Its own session, so that stopping can end every process Ray starts under it;
        # its own directory, so that no worker runs in (or imports from) the user's.
        head = subprocess.Popen(_head_command(settings, temp_dir, gcs_port, dashboard_port),
                                env=head_environment(settings), cwd=demo_dir(settings),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    state = DemoState(head.pid, f"127.0.0.1:{gcs_port}", f"http://127.0.0.1:{dashboard_port}",
                      str(temp_dir), settings.admin_endpoint, str(log),
                      dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    state.save(state_path(settings))
    # `ray start` writes the head's address there once every process of the node is up.
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while not (temp_dir / "ray_current_cluster").is_file():
        if head.poll() is not None or time.monotonic() > deadline:
            stop_head(state)
            why = (f"exited with status {head.returncode}" if head.returncode is not None
                   else f"was not up after {_READY_TIMEOUT_S:.0f} s")
            raise DemoError(f"the Ray head {why}; the end of its log ({log}):\n"
                            f"{_tail(str(log))}")
        time.sleep(0.2)
    return state


def deploy(settings: Settings, state: DemoState) -> None:
    """Run the admin API (and, while the admin app has none, a placeholder console) on
    Serve in the demo's cluster, from this process as a short-lived driver."""
    os.environ["RAY_AUTH_MODE"] = "disabled"  # as the head runs
    # Imported here: Ray Serve takes a second to import, and only starting needs it.
    import ray

    from engine.cli import console_placeholder
    from serve.deployment import start as start_admin

    # Serve's driver-side INFO lines ("Started Serve ...") are not the user's business.
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    # Ray puts the driver's working directory on the path of every worker of its job, and
    # Serve's actors (and the executions' drivers they start) belong to this job: from the
    # user's directory, its modules would shadow those of the code bundles.
    here = os.getcwd()
    os.chdir(demo_dir(settings))
    try:
        ray.init(address=state.gcs_address, log_to_driver=False,
                 logging_level=logging.WARNING)
    finally:
        os.chdir(here)
    try:
        start_admin(settings)
        admin = AdminClient(settings.admin_endpoint, timeout=10)
        admin.check()
        try:
            admin.request("GET", console_placeholder.ROUTE_PREFIX)
        except AdminRequestError as e:
            if e.status != 404:
                raise
            console_placeholder.deploy()
    finally:
        ray.shutdown()


def session_members(sid: int) -> list[int]:
    """Processes of the session ``sid``: the head and everything Ray started under it
    (its workers lead process groups of their own, but stay in the head's session)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == sid:  # after "pid (comm)": state, ppid, pgrp, session
            members.append(int(entry.name))
    return members


def _signal_all(state: DemoState, signum: int) -> list[int]:
    """Send ``signum`` to every process of the head's session; the pids signalled."""
    pids = session_members(state.pid) if Path("/proc").is_dir() else []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(state.pid, signum)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    _reap(state.pid)
    return pids


def stop_head(state: DemoState) -> None:
    """End every process of the head's session: politely, then for good."""
    _signal_all(state, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    while time.monotonic() < deadline:
        _reap(state.pid)
        if not session_members(state.pid) and not _group_alive(state.pid):
            return
        time.sleep(0.2)
    # Ray's workers run their exit handlers slowly; nothing of value is lost (the admin
    # database is transactional, executions are recovered from its records).
    _signal_all(state, signal.SIGKILL)
    deadline = time.monotonic() + _STOP_GRACE_S
    while (session_members(state.pid) or _group_alive(state.pid)) and time.monotonic() < deadline:
        _reap(state.pid)
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect the head's exit status when this process started it (no zombie left)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start(settings: Settings) -> tuple[DemoState, bool]:
    """Start the demo, or find it running; returns its state and whether it was started
    (or repaired) now."""
    settings = dataclasses.replace(settings, home=settings.home.expanduser().resolve())
    port = admin_port(settings)
    running = current(settings)
    if running is not None:
        if _admin_ready(settings):
            return running, False
        deploy(settings, running)  # the head is up but the admin API is not: redeploy
        return running, True
    if not _port_free(port):
        raise DemoError(f"port {port} of {settings.admin_endpoint} is taken by another "
                        "process; stop it, or give the demo another port with "
                        "FLYRAY_ADMIN_ENDPOINT=http://127.0.0.1:<port>")
    BlobStore(StorageConfig.from_settings(settings)).check()
    demo_dir(settings).mkdir(parents=True, exist_ok=True)
    state = start_head(settings)
    try:
        deploy(settings, state)
    except BaseException:
        stop_head(state)
        state_path(settings).unlink(missing_ok=True)
        raise
    return state, True


def stop(settings: Settings) -> tuple[DemoState | None, int]:
    """Stop the running demo (Serve with its cluster); the state it stopped (or None) and
    how many running executions were handed back first, to resume after the next
    start (none is lost or failed by the stop)."""
    state = DemoState.load(state_path(settings))
    if state is None:
        return None, 0
    was_running = _alive(state)
    released = 0
    if was_running:
        released = drain(settings)
        stop_head(state)
    state_path(settings).unlink(missing_ok=True)
    (Path(state.temp_dir) / "ray_current_cluster").unlink(missing_ok=True)
    return (state if was_running else None), released


def drain(settings: Settings) -> int:
    """Ask the admin to hand back its running executions (``POST
    /api/v1/executors/drain``); how many it handed back. An admin that does not answer
    is stopped all the same: its executions are then found lost after the next start
    and resumed, each counting one driver restart."""
    try:
        client = AdminClient(settings.admin_endpoint, settings.admin_token,
                             timeout=_DRAIN_TIMEOUT_S + 15)
        reply = client.post("/api/v1/executors/drain", {"timeout_s": _DRAIN_TIMEOUT_S})
    except FlyrayError as e:
        log.warning("the admin did not drain its executions: %s", e)
        return 0
    return int(reply.body["released"])


def _admin_ready(settings: Settings) -> bool:
    try:
        AdminClient(settings.admin_endpoint, timeout=5).check()
    except FlyrayError:
        return False
    return True


def checks(settings: Settings) -> list[Check]:
    """The readiness of every part, as running now."""
    state = current(settings)
    rows = []
    if state is None:
        rows.append(Check("Ray head", "stopped", False, "-"))
    else:
        rows.append(Check("Ray head", "running", True,
                          f"{state.gcs_address} (dashboard {state.dashboard_url})"))
    admin_ok = _admin_ready(settings)
    rows.append(Check("admin API", "ready" if admin_ok else
                      ("stopped" if state is None else "not answering"), admin_ok,
                      settings.admin_endpoint))
    db = make_url(settings.admin_db_url_or_default).render_as_string(hide_password=True)
    rows.append(Check("database", "ready" if admin_ok else "unknown (admin API down)",
                      admin_ok, db))
    if admin_ok:
        rows.append(_executors(settings))
    try:
        BlobStore(StorageConfig.from_settings(settings)).check()
        rows.append(Check("blob store", "ready", True, settings.blob_root_uri))
    except FlyrayError as e:
        rows.append(Check("blob store", f"unreachable: {e}", False, settings.blob_root_uri))
    return rows


def _executors(settings: Settings) -> Check:
    """The executors row: how many, how many warm, executions in flight."""
    try:
        client = AdminClient(settings.admin_endpoint, settings.admin_token, timeout=5)
        executors = client.get("/api/v1/executors")["executors"]
    except FlyrayError as e:
        return Check("executors", f"unknown: {e}", False, "-")
    live = [e for e in executors if not e["stale"]]
    warm = sum(1 for e in live if e["warm"])
    flight = sum(e["in_flight"] for e in live)
    return Check("executors", f"{len(live)} running ({warm} warm), {flight} execution(s) "
                              "in flight", True, "GET /api/v1/executors")


def urls(settings: Settings) -> dict[str, str]:
    base = settings.admin_endpoint.rstrip("/")
    return {"API": f"{base}/api/v1", "API docs": f"{base}/docs", "console": f"{base}/console"}

