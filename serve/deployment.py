"""The admin API on Ray Serve, and the one seam between the SDK and the server:
``flyray demo`` (``engine/cli/sandbox.py``) calls :func:`start` and imports nothing else
of ``serve`` (``tests/test_layers.py`` holds both sides to that).

``build(settings)`` returns the bound application; ``start(settings)`` runs it where
``settings.admin_endpoint`` says (default http://127.0.0.1:30080: loopback only);
``app(args)`` is the application builder that a Serve config file (``serve deploy``,
``deploy/serve-config.yaml``) names as its ``import_path``. The
FastAPI app is built in each replica from the settings (which travel to it), so no
database connection is ever pickled; the host and port are Serve's HTTP options. An
optional scheduler clock (``serve.control.scheduler.ScaledClock``, plain data) travels the same
way: tests and demos run schedules fast with it. The app serves the web console at
``/console`` itself (``serve.console``), from the admin's own replica.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from urllib.parse import urlsplit

from fastapi import FastAPI
from ray import serve
from ray.serve import Application, RunTarget
from ray.serve.schema import ApplicationStatus

from engine.config import Settings, load_settings
from engine.errors import ConfigError
from serve.app import create_app
from serve.control.launcher import RayLauncher
from serve.control.scheduler import Clock

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "flyray-admin"
APP_NAME = "flyray-admin"
# Serve's own wait for a deployment polls once a second, with no end: a start that takes
# a few seconds should not lose up to one to polling, and a replica that never starts
# should end the wait with Serve's word on it. (Each poll costs the driver ~15 ms of CPU.)
_POLL_S = 0.2
_RUNNING_TIMEOUT_S = 180.0


# No CPU reserved: the replica mostly waits on its database and clients, and a reserved
# CPU would be one fewer for tasks (half of a 2-core machine). Requests beyond Serve's
# default of 5 at once would queue in the proxy; the endpoints run in a thread pool.
@serve.deployment(name=DEPLOYMENT_NAME, ray_actor_options={"num_cpus": 0},
                  max_ongoing_requests=64)
@serve.ingress()
class AdminDeployment:
    """One replica of the admin API; it hands executions to warm executor actors
    and fires schedules (by ``clock``, default the machine's)."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._settings, launcher=RayLauncher(self._settings),
                          clock=self._clock)


def build(settings: Settings | None = None, clock: Clock | None = None) -> Application:
    """The admin API as a Serve application, bound to ``settings`` (default: loaded) and
    the scheduler's ``clock`` (default: the machine's, UTC); both are pickled to the
    replicas."""
    bound: Application = AdminDeployment.bind(settings or load_settings(), clock)  # type: ignore[attr-defined]
    return bound


def app(args: dict[str, str]) -> Application:
    """The application builder of ``import_path: serve.deployment:app`` in a Serve config
    file (or ``serve run serve.deployment:app``): the admin API bound to the settings of
    this process's environment.

    Serve calls it with the config's ``args``; the settings come from the environment
    instead (the application's ``runtime_env.env_vars``: ``FLYRAY_ADMIN_DB_URL``,
    ``FLYRAY_BLOB_ROOT``, ...), as everywhere in Flyray, so ``args`` must be empty. The
    host and port are the config's ``http_options``, not the settings.
    """
    if args:
        raise ConfigError(
            f"the flyray admin application takes no args, got {sorted(args)}; give its "
            "settings as environment variables in the application's runtime_env.env_vars "
            "(e.g. FLYRAY_ADMIN_DB_URL, FLYRAY_BLOB_ROOT; see docs/deploy.md)")
    return build(load_settings())


def bind_address(settings: Settings) -> tuple[str, int]:
    """Host and port of ``settings.admin_endpoint`` (``http://host:port``)."""
    parts = urlsplit(settings.admin_endpoint)
    try:
        port = parts.port or 80
    except ValueError:
        port = -1
    if parts.scheme != "http" or not parts.hostname or port < 1 or parts.path not in ("", "/"):
        raise ConfigError(f"admin_endpoint {settings.admin_endpoint!r} must look like "
                          "http://127.0.0.1:30080 (a scheme, host and port, no path)")
    return parts.hostname, port


def exposure_warning(settings: Settings) -> str | None:
    """What to say when the admin API would listen beyond this machine without a token
    (anyone who reaches the port could read and run everything); None otherwise. Not a
    refusal: deployments behind an authenticating proxy exist (docs/deploy.md)."""
    host, port = bind_address(settings)
    if settings.admin_token or settings.admin_tokens_file or _loopback(host):
        return None
    return (f"the admin API listens on {host}:{port}, beyond this machine, and asks for no "
            "token: anyone who reaches the port can read and launch everything. Set "
            "FLYRAY_ADMIN_TOKEN (or FLYRAY_ADMIN_TOKENS_FILE), or bind it to 127.0.0.1 "
            "with FLYRAY_ADMIN_ENDPOINT=http://127.0.0.1:30080")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def start(settings: Settings | None = None, clock: Clock | None = None) -> None:
    """Start Serve on the admin endpoint's host and port (Ray must be initialized) and run
    the admin API there at ``/`` (its scheduler on ``clock``, its console under
    ``/console``); returns once it runs.

    Raises:
        RuntimeError: it failed to deploy, or did not run within ``_RUNNING_TIMEOUT_S``
            (Serve's message says why).
    """
    settings = settings or load_settings()
    host, port = bind_address(settings)
    warning = exposure_warning(settings)
    if warning is not None:
        # Logged, not raised: with no handler configured (flyray demo start), Python's
        # last resort prints it on stderr.
        log.warning("WARNING: %s", warning)
    serve.start(http_options={"host": host, "port": port})
    serve.run_many([RunTarget(build(settings, clock), name=APP_NAME,
                              route_prefix="/")], wait_for_applications_running=False)
    _wait_running(APP_NAME)


def _wait_running(name: str) -> None:
    """Wait until the application ``name`` runs."""
    deadline = time.monotonic() + _RUNNING_TIMEOUT_S
    while True:
        app = serve.status().applications.get(name)
        if app is not None and app.status == ApplicationStatus.RUNNING:
            return
        if app is not None and app.status == ApplicationStatus.DEPLOY_FAILED:
            raise RuntimeError(f"deploying {name} on Ray Serve failed: {app.message}")
        if time.monotonic() > deadline:
            state = "not deployed" if app is None else f"{app.status}: {app.message}"
            raise RuntimeError(f"{name} did not run on Ray Serve within "
                               f"{_RUNNING_TIMEOUT_S:.0f} s ({state})")
        time.sleep(_POLL_S)
