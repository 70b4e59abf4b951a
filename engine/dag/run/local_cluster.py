"""The local Ray cluster of a Flyray home: ``flyray cluster start``, and the warm runtime.

A home has at most one, recorded in ``$FLYRAY_HOME/cluster/state.json``: a Ray head (see
:mod:`engine.dag.run.ray_head`) under a keeper process (:mod:`engine.dag.run.cluster_keeper`)
that leads the session of all its processes and stops it once no driver has been
connected for its idle timeout (the warm runtime's; a cluster of ``flyray cluster start``
runs until ``flyray cluster stop``). Every process of it listens on 127.0.0.1 only, on free
ports. Runs of the home reuse it only when it runs their Python and Flyray version.

Invariant: the state file names a cluster that was up when it was written; whoever starts,
reuses or stops the cluster holds the home's cluster lock (:func:`locked`), so that two
runs never start two clusters and the keeper never stops one that a run is joining.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray._private import ray_constants
from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR
from ray._raylet import GcsClient  # type: ignore[attr-defined]  # not in Ray's stub
from ray.exceptions import RpcError

from engine.config import Settings, prepare_ray_environment, settings_variables
from engine.dag.run import ray_head
from engine.errors import ConfigError, FlyrayError

# Ray's own drivers (the dashboard's, for job submissions) are not a user's.
_INTERNAL_NAMESPACE = "_ray_internal"
# The job metadata key of a spare driver (engine.cli.spare): connected ahead of a run, it
# does not keep the cluster from idling, except while it serves one (its busy file).
SPARE_METADATA = "flyray-spare"
SPARE_MODULE = "engine.cli.spare"


class LocalClusterError(FlyrayError):
    """The local cluster did not start, does not answer, or cannot be stopped; the
    message says which part, and where its log is."""


@dataclass(frozen=True)
class ClusterState:
    """A running local cluster, as ``state.json`` records it."""

    pid: int  # the keeper: leader of the session of every process of the cluster
    gcs_address: str  # 127.0.0.1:port, for ray.init(address=...)
    # The dashboard and its job API (ray job submit --address); "" when started without
    # (the warm runtime: a run needs neither, and they take seconds of a start).
    dashboard_url: str
    temp_dir: str  # Ray's temp dir of this head (sessions, logs, sockets)
    log: str  # the keeper's and Ray's output
    python: str  # the interpreter that runs its workers (sys.executable of the starter)
    python_prefix: str  # its environment (sys.prefix: a virtualenv's own): the packages
    flyray_version: str  # the Flyray its workers import
    idle_timeout_s: float | None  # stops itself after this long without a driver; None: never
    started_at: str  # ISO 8601, UTC
    # Digest of the settings variables its processes have, which its workers read their
    # settings from: a run whose own differ hands them to its workers (see connect()).
    settings_digest: str

    @classmethod
    def load(cls, path: Path) -> ClusterState | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))


def cluster_dir(settings: Settings) -> Path:
    return settings.home.expanduser().resolve() / "cluster"


def state_path(settings: Settings) -> Path:
    return cluster_dir(settings) / "state.json"


def flyray_version() -> str:
    try:
        return importlib.metadata.version("flyray")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the cluster lock of a home's cluster directory for the block (waits for
    another holder)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def runs(state: ClusterState) -> bool:
    """The recorded keeper still runs (and is that keeper, not a reused pid)."""
    return ray_head.runs(state.pid, state.temp_dir)


def find(settings: Settings) -> tuple[ClusterState | None, ClusterState | None]:
    """The recorded cluster when it runs and answers, else None; and the one recorded
    that does not (gone since), which is stopped and forgotten. Hold :func:`locked`."""
    state = ClusterState.load(state_path(settings))
    if state is None:
        return None, None
    if runs(state) and ray_head.listening(state.gcs_address):
        return state, None
    if runs(state):  # the keeper lives but its head does not answer: end what is left
        ray_head.stop_session(state.pid)
    state_path(settings).unlink(missing_ok=True)
    return None, state


def check_compatible(state: ClusterState) -> None:
    """Refuse a cluster whose workers would run another Python or Flyray than this
    process: tasks would run with other packages than the run was written against.

    Raises:
        ConfigError: they differ; the message says which, and how to fix it.
    """
    differ = []
    # One interpreter has several names (python, python3.11), and virtualenvs share
    # their base's: the interpreter and its environment together tell.
    if (os.path.realpath(state.python), state.python_prefix) != (
            os.path.realpath(sys.executable), sys.prefix):
        differ.append(f"Python {state.python} in {state.python_prefix} (this run: "
                      f"{sys.executable} in {sys.prefix})")
    if state.flyray_version != flyray_version():
        differ.append(f"Flyray {state.flyray_version} (this run: {flyray_version()})")
    if differ:
        raise ConfigError(
            f"the local Ray cluster of this Flyray home (pid {state.pid}, "
            f"{state.gcs_address}) runs {' and '.join(differ)}; stop it with `flyray "
            "cluster stop` (a run starts a new one), or give this environment a Flyray "
            "home of its own (FLYRAY_HOME)")


def start(settings: Settings, *, num_cpus: int | None = None, num_gpus: int | None = None,
          idle_timeout_s: float | None = None, dashboard: bool = True) -> ClusterState:
    """Start the home's cluster and record it; returns once every part answers (the
    dashboard and its job API only when ``dashboard``).
    Hold :func:`locked`, with no cluster running.

    Raises:
        LocalClusterError: a part did not come up (the message ends with the log's tail);
            whatever had started is stopped.
    """
    prepare_ray_environment(settings)  # the S3 variables of spilling, for Ray's IO workers
    directory = cluster_dir(settings)
    temp_dir = ray_head.short_temp_dir(directory / "ray-tmp")  # not a module: never imported
    temp_dir.mkdir(parents=True, exist_ok=True)
    (temp_dir / "ray_current_cluster").unlink(missing_ok=True)
    ports = ray_head.HeadPorts.free()
    # Workers take ports the system picks (0), not Ray's fixed range that other clusters
    # of the machine share.
    head = ray_head.head_command(temp_dir, ports, [
        *ray_head.resource_args(settings, num_cpus, num_gpus),
        "--min-worker-port", "0", "--max-worker-port", "0",
        "--include-dashboard", str(dashboard).lower()])
    log = directory / "ray.log"
    keeper = [sys.executable, "-m", "engine.dag.run.cluster_keeper",
              "--state", str(state_path(settings)), "--temp-dir", str(temp_dir),
              "--gcs", f"127.0.0.1:{ports.gcs}"]
    if idle_timeout_s is not None:
        keeper += ["--idle-timeout", str(idle_timeout_s)]
    env = _environment(settings)
    process = ray_head.launch([*keeper, "--", *head], env, directory, log)
    dashboard_url = f"http://127.0.0.1:{ports.dashboard}" if dashboard else ""
    state = ClusterState(process.pid, f"127.0.0.1:{ports.gcs}", dashboard_url,
                         str(temp_dir), str(log),
                         sys.executable, sys.prefix, flyray_version(), idle_timeout_s,
                         dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                         _digest(_worker_settings(settings, env)))
    try:
        why = ray_head.wait_until_up(process, temp_dir, {
            "job agent": f"http://127.0.0.1:{ports.agent}/api/healthz",
            "dashboard": f"{state.dashboard_url}/api/version"} if dashboard else {})
    except BaseException:  # interrupted: leave nothing running that nobody recorded
        ray_head.stop_session(process.pid)
        raise
    if why is not None:
        ray_head.stop_session(process.pid)
        raise LocalClusterError(f"the local Ray cluster {why}; the end of its log ({log}):\n"
                                f"{ray_head.tail(log)}")
    state.save(state_path(settings))
    return state


def stop(settings: Settings) -> ClusterState | None:
    """Stop the home's cluster: exactly the processes of its session. The state it
    stopped, or None when none was running."""
    if not cluster_dir(settings).is_dir():
        return None  # never started here: nothing to lock
    with locked(cluster_dir(settings)):
        state = ClusterState.load(state_path(settings))
        if state is None:
            if state_path(settings).exists():
                raise LocalClusterError(
                    f"{state_path(settings)} cannot be read, so the cluster it records "
                    "cannot be stopped by its session; stop its processes yourself (they "
                    f"run with --temp-dir under {cluster_dir(settings)}), then remove the "
                    "file")
            return None
        running = runs(state)
        if running:
            ray_head.stop_session(state.pid)
        stop_spare(cluster_dir(settings))
        state_path(settings).unlink(missing_ok=True)
    return state if running else None


def stop_spare(directory: Path) -> None:
    """End the spare driver of the cluster in ``directory``, when one runs: it lives in
    a session of its own (it notices the cluster's end too, within a second or so)."""
    pid = spare_pid(directory)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    (directory / "spare.pid").unlink(missing_ok=True)


def spare_pid(directory: Path) -> int | None:
    """The pid of the spare driver of the cluster in ``directory`` while it runs."""
    try:
        pid = int((directory / "spare.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and ray_head.runs(pid, SPARE_MODULE) else None


def _environment(settings: Settings) -> dict[str, str]:
    """The environment of every process of the cluster.

    Flyray's variables are left out (runs hand theirs to their workers, see
    :func:`connect`); Ray runs unauthenticated unless the user chose otherwise, and in
    its single-machine mode, which keeps every address on 127.0.0.1 (on Linux Ray swaps
    127.0.0.1 for the machine's network address, and listens on every interface).
    """
    # A run's own job configuration (its --envvars) stays with that run.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLYRAY_") and k != RAY_JOB_CONFIG_JSON_ENV_VAR}
    env.setdefault("RAY_AUTH_MODE", "disabled")
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
               FLYRAY_HOME=str(settings.home.expanduser().resolve()))
    return env


def _worker_settings(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The settings variables of ``environ`` as workers of the home's cluster read them
    (with the home itself, which a run may leave to its default)."""
    return {**settings_variables(environ),
            "FLYRAY_HOME": str(settings.home.expanduser().resolve())}


def _digest(variables: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(variables, sort_keys=True).encode()).hexdigest()


def connect(state: ClusterState, settings: Settings, options: dict[str, Any]) -> None:
    """Connect this process to the cluster as a driver (``ray.init`` ``options``).

    Workers read their settings from their environment, which is the cluster's: when
    this process's settings variables differ from those, they travel in the job's runtime
    environment. Only then: a runtime environment costs every worker of the run a round
    trip to Ray's runtime-env agent, and leaves unused the workers Ray starts ahead.
    """
    env = _worker_settings(settings, os.environ)
    runtime_env = None
    if _digest(env) != state.settings_digest:
        # A job configuration set already (--envvars, ray job submit) wins: Ray refuses
        # to merge two values of one variable.
        injected = json.loads(os.environ.get(RAY_JOB_CONFIG_JSON_ENV_VAR) or "{}")
        for name in ((injected.get("runtime_env") or {}).get("env_vars") or {}):
            env.pop(name, None)
        runtime_env = {"env_vars": env}
    # Ray swaps 127.0.0.1 for the machine's network address, where the cluster does not
    # listen, unless in its single-machine mode (a constant read from the environment at
    # import): on while connecting; once connected, Ray takes addresses from the node.
    previous = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address=state.gcs_address, runtime_env=runtime_env, **options)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous


def spare_busy(directory: Path) -> Path:
    """The file that a spare driver holds (its pid inside) while it serves a run."""
    return directory / "spare.busy"


def spare_idle(directory: Path) -> None:
    """Record that a spare driver's run has just ended (the file's modification time)."""
    (directory / "spare.last").touch()


def _spare_activity(directory: Path) -> float | None:
    """When a spare driver last ended a run (epoch seconds, 0 for never); None while one
    serves."""
    try:
        pid = int(spare_busy(directory).read_text())
        os.kill(pid, 0)
        return None
    except (OSError, ValueError):
        pass
    try:
        return (directory / "spare.last").stat().st_mtime
    except OSError:
        return 0.0


def idle_since(client: GcsClient, since: float, directory: Path) -> float | None:
    """Since when (epoch seconds, ``since`` at the earliest) no driver has been connected
    to the cluster that ``client`` reaches (its directory: ``directory``); None while one
    is. Ray's internal drivers (the dashboard's) do not count, nor spare drivers waiting
    for a run.

    Raises:
        ray.exceptions.RpcError: the cluster did not answer.
    """
    spare = _spare_activity(directory)
    if spare is None:
        return None
    latest = max(since, spare)
    for job in client.get_all_job_info(timeout=5).values():
        if job.config.ray_namespace.startswith(_INTERNAL_NAMESPACE):
            continue
        if not job.is_dead and SPARE_METADATA in job.config.metadata:
            continue
        if not job.is_dead:
            return None
        latest = max(latest, job.end_time / 1000)
    return latest


def idle_for(state: ClusterState) -> float | None:
    """How long (seconds) the running cluster ``state`` has been without a driver; None
    while one is connected.

    Raises:
        LocalClusterError: the cluster does not answer.
    """
    why = f"the local Ray cluster does not answer at {state.gcs_address} (its log: {state.log})"
    if not ray_head.listening(state.gcs_address):  # a client would wait half a minute
        raise LocalClusterError(why)
    started = dt.datetime.fromisoformat(state.started_at).timestamp()
    try:
        since = idle_since(GcsClient(address=state.gcs_address), started,
                           Path(state.log).parent)
    except RpcError as e:
        raise LocalClusterError(f"{why}: {e}") from e
    return None if since is None else max(0.0, time.time() - since)


def span(seconds: float) -> str:
    """A duration for people: '1 h 5 min', '30 min', '2 min 5 s', '4 s'."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(hours, "h"), (minutes, "min"), (0 if hours else secs, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"
