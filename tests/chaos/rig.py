"""One scenario's admin: the admin API in this process over a fresh admin database and
blob store, launching executions on the chaos cluster, with the side-effect ledger its
workflows write to and the names of every execution it got a 2xx for.

A scenario launches through :meth:`Rig.launch` so that the checker
(:func:`tests.chaos.invariants.check_nothing_lost`) knows what was accepted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import ray
from fastapi.testclient import TestClient

from engine.config import Settings
from engine.core.workflow import PythonFunctionWorkflow
from serve.app import create_app
from serve.control.launcher import NAMESPACE, RayLauncher, executor_names
from serve.control.launching import Liveness
from serve.control.scheduler import Clock
from serve.store import AdminStore
from tests.chaos.ledger import Ledger
from tests.serve.conftest import FAST
from tests.serve.remote import nodes
from tests.serve.specs import DOMAIN, PROJECT, register_workflow

EXECUTIONS = "/api/v1/executions"
TERMINAL = ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")


@dataclass
class Rig:
    """The admin of one scenario; ``client`` is its API (replaced by :meth:`restart`)."""

    home: Path
    admin_url: str
    settings: Settings
    liveness: Liveness
    store: AdminStore
    client: TestClient
    ledger: Ledger
    accepted: list[str] = field(default_factory=list)
    # The scheduler's clock (None: the machine's), kept across restarts.
    clock: Clock | None = None

    def register(self, wf: PythonFunctionWorkflow) -> dict[str, Any]:
        """Register ``wf`` and its tasks; returns the workflow's id."""
        return register_workflow(self.client, wf)

    def body(self, ident: dict[str, Any], name: str, **inputs: Any) -> dict[str, Any]:
        """The create-execution body of workflow ``ident`` named ``name``; the ledger and
        the name (as ``key``) are added to ``inputs``."""
        return {"project": PROJECT, "domain": DOMAIN, "name": name,
                "workflow": {"name": ident["name"], "version": ident["version"]},
                "inputs": {"ledger": str(self.ledger), "key": name, **inputs}}

    def launch(self, ident: dict[str, Any], name: str, **inputs: Any) -> str:
        """Create execution ``name`` of workflow ``ident``; recorded as accepted."""
        response = self.client.post(EXECUTIONS, json=self.body(ident, name, **inputs))
        assert response.status_code in (200, 201), response.text
        self.accept(name)
        return name

    def accept(self, name: str) -> None:
        """Record that a create request for ``name`` was answered 2xx."""
        if name not in self.accepted:
            self.accepted.append(name)

    def execution(self, name: str) -> dict[str, Any]:
        response = self.client.get(f"{EXECUTIONS}/{PROJECT}/{DOMAIN}/{name}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def phase(self, name: str) -> str:
        return str(self.execution(name)["closure"]["phase"])

    def nodes(self, name: str) -> dict[str, dict[str, Any]]:
        """Node executions of ``name`` by node id (``tests.serve.remote.nodes``)."""
        return nodes(self.client, name)

    def wait(self, names: list[str] | None = None, timeout_s: float = 120.0
             ) -> dict[str, str]:
        """Phases of ``names`` (default: all accepted) once all are terminal, or as they
        are when ``timeout_s`` runs out."""
        pending = set(self.accepted if names is None else names)
        phases: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                phase = self.phase(name)
                phases[name] = phase
                if phase in TERMINAL:
                    pending.discard(name)
            if pending:
                time.sleep(0.2)
        return phases

    def wait_until(self, condition: Any, timeout_s: float = 60.0,
                   what: str = "condition") -> float:
        """Wait for ``condition()``; returns the seconds it took. Fails past the timeout."""
        start = time.monotonic()
        while not condition():
            assert time.monotonic() - start < timeout_s, f"timed out waiting for {what}"
            time.sleep(0.05)
        return time.monotonic() - start

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The admin server down for the block (its supervisor and scheduler too), then a
        new one over the same database: an admin restart."""
        self.client.__exit__(None, None, None)
        try:
            yield
        finally:
            self.client = _client(self.settings, self.store, self.liveness, self.clock)
            self.client.__enter__()


def _client(settings: Settings, store: AdminStore, liveness: Liveness,
            clock: Clock | None = None) -> TestClient:
    app = create_app(settings, store=store, launcher=RayLauncher(), liveness=liveness,
                     clock=clock)
    return TestClient(app)


def kill_executors() -> None:
    """Kill every Flyray executor on the cluster (each rig has its own database, so
    executors never outlive their scenario)."""
    for name in executor_names():
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)


@contextlib.contextmanager
def open_rig(home: Path, admin_url: str, blob: dict[str, Any],
             **options: Any) -> Iterator[Rig]:
    """A :class:`Rig` over ``admin_url``; ``options`` change Liveness timings (names of
    its fields) or Settings fields; ``clock`` is the scheduler's clock."""
    clock: Clock | None = options.pop("clock", None)
    timings = {k: v for k, v in options.items() if k in Liveness.__dataclass_fields__}
    fields = {k: v for k, v in options.items() if k not in timings}
    settings = Settings(home=home, admin_db_url=admin_url,
                        catalog_url=f"sqlite:///{home}/catalog.db", **blob, **fields)
    store = AdminStore(admin_url)
    liveness = dataclasses.replace(FAST, **timings)
    rig = Rig(home, admin_url, settings, liveness, store,
              _client(settings, store, liveness, clock), Ledger(home / "ledger"), clock=clock)
    rig.client.__enter__()
    try:
        yield rig
    finally:
        rig.client.__exit__(None, None, None)
        kill_executors()
        store.close()


@contextlib.contextmanager
def open_served_rig(home: Path, admin_url: str, blob: dict[str, Any], replicas: int = 2,
                    **fields: Any) -> Iterator[Rig]:
    """A :class:`Rig` whose admin runs on Ray Serve on the cluster, as deployed
    (``serve.deployment.AdminDeployment``, its default liveness timings), with
    ``replicas`` replicas behind one proxy on the head, at 127.0.0.1 on a free port;
    ``client`` is an ``httpx.Client`` of that endpoint (Rig uses only the ``httpx.Client``
    part of TestClient's API; :meth:`Rig.stopped` does not apply). ``fields`` are
    Settings fields to change. Serve is shut down at the end."""
    import httpx
    from ray import serve

    from serve.deployment import APP_NAME, AdminDeployment
    from tests.servers import free_port

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    settings = Settings(home=home, admin_db_url=admin_url, admin_endpoint=endpoint,
                        catalog_url=f"sqlite:///{home}/catalog.db", **blob, **fields)
    store = AdminStore(admin_url)  # the schema exists before the replicas open it
    client = httpx.Client(base_url=endpoint, timeout=30.0)
    rig = Rig(home, admin_url, settings, Liveness.of(settings), store,
              cast(TestClient, client), Ledger(home / "ledger"))
    try:
        # One proxy, on the head: the nodes share 127.0.0.1, so one per node would
        # contend for the port.
        serve.start(proxy_location="HeadOnly",
                    http_options={"host": "127.0.0.1", "port": port})
        serve.run(AdminDeployment.options(num_replicas=replicas)  # type: ignore[attr-defined]
                  .bind(settings, None), name=APP_NAME, route_prefix="/")
        yield rig
    finally:
        client.close()
        serve.shutdown()
        kill_executors()
        store.close()
