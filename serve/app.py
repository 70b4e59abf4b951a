"""The admin API as a FastAPI application: ``create_app(settings)``. Imports no Ray.

``serve.deployment`` hosts it on Ray Serve, with the Ray launcher that runs executions;
tests drive it with FastAPI's TestClient.
Routes live under ``/api/v1`` (one router per resource), plus ``GET /healthz``, the
OpenAPI document at ``/openapi.json`` and its browsable form at ``/docs``. With a token
configured, every call but ``GET /healthz`` needs one (``serve.api.security``); every
call but that one is under its client's rate limit (``serve.api.rate_limit``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import Settings
from serve.api import (
    changes,
    decks,
    entities,
    executions,
    executors,
    launch_plans,
    logs,
    notifications,
    openapi_doc,
    projects,
    schedules,
    signals,
)
from serve.api import errors as api_errors
from serve.api.rate_limit import RateLimiter, RateLimitGuard
from serve.api.schemas import Health
from serve.api.security import RequestGuard
from serve.api.tokens import Tokens
from serve.console import router as console
from serve.control.executions import ExecutionService
from serve.control.launching import Launcher, Liveness
from serve.control.notifier import DeliveryPolicy, Notifier
from serve.control.scheduler import Clock, Scheduler, utc_now
from serve.control.supervisor import Supervisor
from serve.store import AdminStore

API_PREFIX = "/api/v1"


def create_app(settings: Settings, store: AdminStore | None = None,
               launcher: Launcher | None = None, liveness: Liveness | None = None,
               clock: Clock | None = None, delivery: DeliveryPolicy | None = None) -> FastAPI:
    """The admin API over ``store`` (by default one opened at ``settings.admin_db_url``,
    closed when the app shuts down). The configured default project is created if it is
    missing, so registering into it works from the start.

    ``launcher`` starts the drivers of executions (``serve.control.launcher.RayLauncher``);
    without one the API registers and reads but refuses to launch. With one, the app's
    lifespan runs the supervisor that starts executions waiting for a launch plan slot
    and restarts lost drivers, with ``liveness``'s timings, and the scheduler that fires
    active schedules by ``clock`` (default: the machine's clock, UTC; the schedules
    listing reads it too), and the notifier that sends the notifications of ended
    executions as ``delivery`` says (default: ``DeliveryPolicy()``)."""
    tokens = Tokens.from_settings(settings)  # first: a broken tokens file stops the start
    owned = store is None
    admin = store if store is not None else AdminStore(settings.admin_db_url_or_default)
    try:
        admin.ensure_project(settings.project, (settings.domain,))
    except BaseException:
        if owned:
            admin.close()
        raise

    service = ExecutionService(admin, launcher, settings, liveness or Liveness.of(settings))
    supervisor = Supervisor(service) if launcher is not None else None
    clock = clock or utc_now
    scheduler = Scheduler(service, clock) if launcher is not None else None
    notifier = Notifier(admin, settings, delivery) if launcher is not None else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if supervisor is not None:
            supervisor.start()
        if scheduler is not None:
            scheduler.start()
        if notifier is not None:
            notifier.start()
        try:
            yield
        finally:
            if notifier is not None:
                notifier.stop()
            if scheduler is not None:
                scheduler.stop()
            if supervisor is not None:
                supervisor.stop()
            if owned:
                admin.close()

    app = FastAPI(title="Flyray admin", version="1", docs_url="/docs",
                  openapi_url="/openapi.json", redoc_url=None, lifespan=lifespan,
                  description="Registration of tasks, workflows and launch plans, launch "
                              "plan activation, schedules, and executions (Flyte's "
                              "FlyteAdmin on Ray).")
    app.state.store = admin
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.executions = service
    app.state.blobs = BlobStore(StorageConfig.from_settings(settings))  # decks are read there
    app.state.clock = clock
    app.state.scheduler = scheduler
    api_errors.install(app)
    _add_health(app, admin)
    api = APIRouter(prefix=API_PREFIX)
    for module in (projects, entities, launch_plans, schedules, executions, changes,
                   notifications, executors, signals, decks, logs):
        api.include_router(module.router)
    app.include_router(api)
    console.install(app)
    openapi_doc.install(app)
    _install_guards(app, settings, tokens)
    return app


def _add_health(app: FastAPI, admin: AdminStore) -> None:
    """``GET /healthz``: the server answers and its database does (outside /api/v1, for
    load balancers)."""

    @app.get("/healthz", response_model=Health, tags=["health"],
             responses={503: api_errors.ERROR_RESPONSES[503]})
    def healthz() -> Health:
        admin.ping()
        return Health(status="ok")


def _install_guards(app: FastAPI, settings: Settings, tokens: Tokens) -> None:
    """The middleware in front of every route. The one added last is the outermost: a
    call over its rate limit is refused before its body is read."""
    app.add_middleware(RequestGuard, tokens=tokens,
                       max_body_bytes=settings.admin_max_request_bytes)
    app.add_middleware(RateLimitGuard, limiter=RateLimiter.from_settings(settings),
                       tokens=tokens)
