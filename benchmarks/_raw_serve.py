"""Raw Ray Serve doing the admin API's request work, for the admin_api workload's peer.

A bare FastAPI app on Ray Serve, deployed as Flyray's admin is (no CPU reserved, up to
64 requests at once, endpoints in the thread pool), whose two endpoints do what
create- and get-execution do at their core: one JSON row inserted into a SQLite file
(WAL, one commit), and one row read by key. What Flyray adds on top (validation,
resolution of the launch plan, records, starting a driver) is the ratio's subject.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from ray import serve
from ray.serve import Application

APP_NAME = "raw-admin"
ROUTE_PREFIX = "/raw"


def _app(db_path: str) -> FastAPI:
    app = FastAPI()
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
            local.conn.execute("PRAGMA journal_mode=WAL")
            local.conn.execute("CREATE TABLE IF NOT EXISTS rows (name TEXT PRIMARY KEY, "
                               "body TEXT NOT NULL)")
        conn: sqlite3.Connection = local.conn
        return conn

    @app.post("/rows", status_code=201)
    def create(body: dict[str, Any]) -> dict[str, Any]:
        name = uuid.uuid4().hex[:20]
        conn = connection()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO rows VALUES (?, ?)", (name, json.dumps(body)))
        conn.execute("COMMIT")
        return {"id": {"name": name}, "body": body}

    @app.get("/rows/{name}")
    def get(name: str) -> dict[str, Any]:
        row = connection().execute("SELECT body FROM rows WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return {"id": {"name": name}, "body": json.loads(row[0])}

    return app


@serve.deployment(name="raw-admin", ray_actor_options={"num_cpus": 0},
                  max_ongoing_requests=64)
@serve.ingress()
class RawAdmin:
    def __init__(self, db_path: str) -> None:
        self._db_path = db_path

    def __serve_build_asgi_app__(self) -> FastAPI:
        return _app(self._db_path)


def run(home: Path) -> None:
    """Deploy the raw app at ``/raw`` on the running Serve instance."""
    app: Application = RawAdmin.bind(str(home / "raw-admin.db"))  # type: ignore[attr-defined]
    serve.run(app, name=APP_NAME, route_prefix=ROUTE_PREFIX)
