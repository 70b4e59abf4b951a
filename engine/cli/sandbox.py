"""The local demo control plane behind ``flyray demo``: a Ray head, the admin API on Serve.

The head is Flyray's own (:mod:`engine.dag.run.ray_head`): a session (process group) of
its own, its own temp dir under the Flyray home, every process on 127.0.0.1, on free
ports. Serve apps are detached, so the process that deploys the admin API (this one) may
exit. What is running is written to ``$FLYRAY_HOME/demo/state.json``; stopping ends the
head's session and keeps the data (the admin database and the blob store).

Starting overlaps what it can (this process imports Serve while the head starts) and
starts no process it can do without: the admin's replica serves the console
too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import make_url

from engine.admin_client import AdminClient
from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import Settings
from engine.dag.run import ray_head
from engine.dag.run.ray_head import (  # session_members: the demo's callers find it here
    HeadPorts,
    port_free,
    session_members,  # noqa: F401
    single_machine,
    stop_session,
)
from engine.errors import FlyrayError

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost")
# How long stopping waits for running executions to be handed back.
_DRAIN_TIMEOUT_S = 30.0


class DemoError(FlyrayError):
    """The demo cannot start or stop; the message says why and what to do."""


@dataclass(frozen=True)
class DemoState:
    """What a running demo is made of; saved as JSON next to its logs."""

    pid: int  # the head's process: leader of the session of every Ray process
    gcs_address: str  # host:port of the head, for ray.init(address=...)
    dashboard_url: str  # "" when started without Ray's dashboard (the default)
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
    return ray_head.runs(state.pid, state.temp_dir)


def current(settings: Settings) -> DemoState | None:
    """The running demo of this Flyray home, if any."""
    state = DemoState.load(state_path(settings))
    return state if state is not None and _alive(state) else None


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
    return ray_head.short_temp_dir(demo_dir(settings) / "ray-tmp")  # never imported


def head_environment(settings: Settings) -> dict[str, str]:
    """The environment of every Ray process of the demo (workers read settings from it)."""
    return dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
                FLYRAY_HOME=str(settings.home.expanduser().resolve()))


def launch_head(settings: Settings,
                dashboard: bool) -> tuple[subprocess.Popen[bytes], DemoState]:
    """Start the Ray head in the background, with Ray's dashboard or not, and record it;
    returns at once (see :func:`wait_for_head`)."""
    temp_dir = _temp_dir(settings)
    temp_dir.mkdir(parents=True, exist_ok=True)
    (temp_dir / "ray_current_cluster").unlink(missing_ok=True)
    ports = HeadPorts.free()
    log = demo_dir(settings) / "ray-head.log"
    # Workers take ports the system picks, not Ray's fixed range that other clusters of
    # the machine share.
    head = ray_head.launch(ray_head.head_command(temp_dir, ports, [
        *ray_head.resource_args(settings), "--min-worker-port", "0", "--max-worker-port", "0",
        "--include-dashboard", str(dashboard).lower()]),
        head_environment(settings), demo_dir(settings), log)
    state = DemoState(head.pid, f"127.0.0.1:{ports.gcs}",
                      f"http://127.0.0.1:{ports.dashboard}" if dashboard else "",
                      str(temp_dir), settings.admin_endpoint, str(log),
                      dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    state.save(state_path(settings))
    return head, state


def wait_for_head(head: subprocess.Popen[bytes], state: DemoState) -> None:
    """Wait until the head ``head`` started is up, its dashboard too when it has one.

    Raises:
        DemoError: it exited, or a part did not answer in time; the message ends with
            the tail of its log.
    """
    parts = {"dashboard": f"{state.dashboard_url}/api/version"} if state.dashboard_url else {}
    why = ray_head.wait_until_up(head, Path(state.temp_dir), parts)
    if why is not None:
        raise DemoError(f"the Ray head {why}; the end of its log ({state.log}):\n"
                        f"{ray_head.tail(state.log)}")


def deploy(settings: Settings, state: DemoState) -> None:
    """Run the admin API, with its console, on Serve in the demo's cluster,
    from this process as a short-lived driver; returns once the admin API answers."""
    os.environ["RAY_AUTH_MODE"] = "disabled"  # as the head runs
    # Imported here: Ray Serve takes a second to import, and only starting needs it.
    import ray

    from serve.deployment import start as start_admin

    # Serve's driver-side INFO lines ("Started Serve ...") are not the user's business.
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    # Ray puts the driver's working directory on the path of every worker of its job, and
    # Serve's actors (and the executions' drivers they start) belong to this job: from the
    # user's directory, its modules would shadow those of the code bundles.
    here = os.getcwd()
    os.chdir(demo_dir(settings))
    try:
        with single_machine():
            ray.init(address=state.gcs_address, log_to_driver=False,
                     logging_level=logging.WARNING)
    finally:
        os.chdir(here)
    try:
        start_admin(settings)
        AdminClient(settings.admin_endpoint, timeout=10).check()
    finally:
        ray.shutdown()


def stop_head(state: DemoState) -> None:
    """End every process of the head's session (the admin database is transactional,
    executions are recovered from its records: nothing of value is lost)."""
    stop_session(state.pid)


def start(settings: Settings, dashboard: bool = False) -> tuple[DemoState, bool]:
    """Start the demo (its head with Ray's dashboard or not: without, it starts about
    2 s sooner), or find it running; returns its state and whether it was started (or
    repaired) now."""
    settings = dataclasses.replace(settings, home=settings.home.expanduser().resolve())
    port = admin_port(settings)
    running = current(settings)
    if running is not None:
        if _admin_ready(settings):
            return running, False
        deploy(settings, running)  # the head is up but the admin API is not: redeploy
        return running, True
    if not port_free(port):
        raise DemoError(f"port {port} of {settings.admin_endpoint} is taken by another "
                        "process; stop it, or give the demo another port with "
                        "FLYRAY_ADMIN_ENDPOINT=http://127.0.0.1:<port>")
    BlobStore(StorageConfig.from_settings(settings)).check()
    demo_dir(settings).mkdir(parents=True, exist_ok=True)
    head, state = launch_head(settings, dashboard)
    try:
        # Imported while the head starts (a second or two of CPU, on another core).
        import serve.deployment  # noqa: F401

        wait_for_head(head, state)
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
        dashboard = f" (dashboard {state.dashboard_url})" if state.dashboard_url else ""
        rows.append(Check("Ray head", "running", True, state.gcs_address + dashboard))
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

