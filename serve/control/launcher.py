"""Handing execution drivers to warm executors on Ray: the
:class:`~serve.control.launching.Launcher` that ``serve.deployment`` gives the admin app.

Executors (``serve.driver.executor``) are detached actors in the namespace ``flyray``,
named ``flyray-executor:<key digest>:<slot>`` from their
:class:`~serve.control.launching.ExecutorKey`: a driver goes to the first slot of its key
whose executor accepts it, and a slot with no executor gets one. Any admin replica so
finds the same executors, and two replicas starting one slot at once share it (Ray's
``get_if_exists``).

An executor's runtime environment is its key's: the code bundle as Ray's
``working_dir`` (the zip's one top-level directory becomes the executor's, and its
tasks', working directory, on ``sys.path``), and for a project and domain other than
the server's defaults, ``FLYRAY_PROJECT``/``FLYRAY_DOMAIN``, so tasks compute their
identities (cache keys) as the registered code did. The default key's executors have no
runtime environment of their own: they and their tasks take Ray's warm workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from dataclasses import asdict
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from engine.config import Settings, load_settings
from engine.dag.run.cluster import ensure_ray
from serve.control.launching import DriverTicket, ExecutorKey, Liveness
from serve.driver.executor import Executor, ExecutorSpec, Handoff
from serve.store.execution_records import ExecutionId

log = logging.getLogger(__name__)

NAMESPACE = "flyray"
PREFIX = "flyray-executor:"
# Executors one key may have: capacity x this many executions at once.
_MAX_SLOTS = 64
# Calls to executors that should answer at once (they are threaded actors).
_CALL_TIMEOUT_S = 10.0
# How old the picture of who drives what may be when the supervisor asks.
_SNAPSHOT_S = 0.5

Launch = tuple[ExecutionId, int]


def executor_name(key: ExecutorKey, slot: int) -> str:
    digest = hashlib.sha256(json.dumps(asdict(key), sort_keys=True).encode()).hexdigest()
    return f"{PREFIX}{digest[:16]}:{slot}"


def executor_names() -> list[str]:
    """Names of the executors on the cluster (alive, or starting)."""
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == NAMESPACE and a["name"].startswith(PREFIX)]


class RayLauncher:
    """Drivers handed to executors on the Ray cluster this process is connected to."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        # launch -> name of the executor driving it, and when that picture was taken.
        self._drivers: dict[Launch, str] = {}
        self._taken = 0.0
        self._handles: dict[str, Any] = {}  # executor name -> its actor handle

    def launch(self, ticket: DriverTicket) -> None:
        self._connect()
        key, liveness = ExecutorKey.of(ticket), ticket.liveness
        for slot in range(_MAX_SLOTS):
            name = executor_name(key, slot)
            for _ in range(2):  # a second try when the slot's executor was just ending
                try:
                    # A new executor answers once started: the one wait of a new version.
                    handoff = ray.get(self._executor(key, slot, ticket.settings, liveness)
                                      .drive.remote(ticket), timeout=liveness.start_grace_s)
                    break
                except GetTimeoutError:
                    # The call stays queued at that executor, which may still start and
                    # take it: handing it to another one could drive it twice. The
                    # supervisor relaunches it if it never claims its execution.
                    log.warning("executor %s did not start within %g s", name,
                                liveness.start_grace_s)
                    return
                except RayError as e:  # it died meanwhile: the slot gets a new one
                    log.info("executor %s is gone (%s)", name, type(e).__name__)
                    self._handles.pop(name, None)
                    handoff = Handoff.ENDING
            if handoff is Handoff.ACCEPTED:
                with self._lock:
                    self._drivers[(ticket.execution, ticket.launch)] = name
                return
        raise RuntimeError(f"execution {ticket.execution}: no executor of its code version "
                           f"accepted it ({_MAX_SLOTS} are full or ending)")

    def stop(self, execution: ExecutionId, launch: int, cause: str, timeout_s: float) -> bool:
        handle = self._driver_of(execution, launch)
        if handle is None:
            return False
        try:
            return bool(ray.get(handle.stop.remote(execution, launch, cause, timeout_s),
                                timeout=timeout_s + _CALL_TIMEOUT_S))
        except RayError:  # died meanwhile, or no answer in time (GetTimeoutError)
            return False

    def is_alive(self, execution: ExecutionId, launch: int) -> bool:
        with self._lock:
            fresh = time.monotonic() - self._taken < _SNAPSHOT_S
        if not fresh:
            self._refresh()
        with self._lock:
            return (execution, launch) in self._drivers

    def kill(self, execution: ExecutionId, launch: int) -> None:
        handle = self._driver_of(execution, launch)
        if handle is not None:
            # Gone already, or busy: fencing stops the driver all the same.
            with contextlib.suppress(RayError):
                ray.get(handle.forget.remote(execution, launch), timeout=_CALL_TIMEOUT_S)
        with self._lock:
            self._drivers.pop((execution, launch), None)

    def keep_warm(self, key: ExecutorKey, settings: Settings, liveness: Liveness) -> None:
        self._connect()
        for slot in range(liveness.warm_executors):
            # Looked up afresh: a warm executor may have been killed since.
            self._handles.pop(executor_name(key, slot), None)
            self._executor(key, slot, settings, liveness)

    def drain(self, admin_db_url: str, timeout_s: float) -> int:
        self._connect()
        calls = []
        for name in executor_names():
            try:
                handle = ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:
                continue  # ended meanwhile
            calls.append(handle.drain.remote(admin_db_url, timeout_s))
        released = 0
        for call in calls:
            try:
                released += ray.get(call, timeout=timeout_s + _CALL_TIMEOUT_S) or 0
            except RayError as e:
                log.warning("an executor did not drain: %s", e)
        return released

    def _executor(self, key: ExecutorKey, slot: int, settings: Settings,
                  liveness: Liveness) -> Any:
        """The executor of ``key``'s ``slot``, started if there is none."""
        name = executor_name(key, slot)
        handle = self._handles.get(name)
        if handle is not None:
            return handle
        env = _runtime_env(key, settings)
        try:
            handle = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            spec = ExecutorSpec(name, key, warm=_is_default(key, settings)
                                and slot < liveness.warm_executors,
                                capacity=liveness.executor_capacity,
                                idle_s=liveness.executor_idle_s,
                                heartbeat_s=liveness.heartbeat_s)
            # get_if_exists: another admin replica may be starting the same slot.
            handle = Executor.options(  # type: ignore[attr-defined]
                name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                runtime_env=env, max_concurrency=32,
            ).remote(spec)
        self._handles[name] = handle
        return handle

    def _refresh(self) -> None:
        """Ask every executor what it drives. One that does not answer in time keeps
        the launches it was known to drive (its heartbeats in the database tell)."""
        names = executor_names()
        calls: dict[str, Any] = {}
        for name in names:
            try:
                calls[name] = ray.get_actor(name, namespace=NAMESPACE).driving.remote()
            except ValueError:
                continue
        drivers: dict[Launch, str] = {}
        silent: set[str] = set()
        for name, call in calls.items():
            try:
                for launch in ray.get(call, timeout=_CALL_TIMEOUT_S):
                    drivers[launch] = name
            except GetTimeoutError:
                silent.add(name)
            except RayError:
                continue  # died meanwhile: its launches are lost
        with self._lock:
            kept = {launch: name for launch, name in self._drivers.items()
                    if name in silent}
            self._drivers = {**kept, **drivers}
            self._taken = time.monotonic()

    def _driver_of(self, execution: ExecutionId, launch: int) -> Any:
        if not self.is_alive(execution, launch):
            return None
        with self._lock:
            name = self._drivers.get((execution, launch))
        try:
            return ray.get_actor(name, namespace=NAMESPACE) if name else None
        except ValueError:
            return None

    def _connect(self) -> None:
        if not ray.is_initialized():
            ensure_ray(self.settings or load_settings())


def _is_default(key: ExecutorKey, settings: Settings) -> bool:
    return key.code_uri is None and (key.project, key.domain) == (settings.project,
                                                                  settings.domain)


def _runtime_env(key: ExecutorKey, settings: Settings) -> dict[str, Any] | None:
    env: dict[str, Any] = {}
    if (key.project, key.domain) != (settings.project, settings.domain):
        env["env_vars"] = {"FLYRAY_PROJECT": key.project, "FLYRAY_DOMAIN": key.domain}
    if key.code_uri:
        env["working_dir"] = key.code_uri
    return env or None
