"""Everything a fault scenario runs against, started once per suite run: the chaos
cluster, a PostgreSQL server and an S3 server of the suite's own (scenarios stop them),
the failpoints directory, and :meth:`ChaosEnv.rig`, the admin API over a fresh admin
database and blob store for one scenario.

Plain code with no pytest in it: ``tests/chaos/conftest.py`` and
``python -m benchmarks.chaos`` both build one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import failpoints
from tests.chaos.cluster import ChaosCluster
from tests.chaos.rig import Rig, open_rig, open_served_rig
from tests.servers import MotoServer, PostgresServer, admin_connect

S3_REGION = "us-east-1"
S3_KEYS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


class ChaosEnv:
    """The suite's shared parts; :meth:`close` stops all of them and removes their files."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="flyray-chaos-"))
        self.failpoints_dir = self.root / "failpoints"
        self.failpoints_dir.mkdir(parents=True, exist_ok=True)
        # Before any Ray process starts: every one of them inherits these.
        os.environ[failpoints.TESTING_FLAG] = "1"
        os.environ[failpoints.DIRECTORY] = str(self.failpoints_dir)
        self.cluster = ChaosCluster()
        self.cluster.start()
        self._postgres: PostgresServer | None = None
        self._s3: MotoServer | None = None

    @property
    def postgres(self) -> PostgresServer:
        """The suite's PostgreSQL server, started on first use."""
        if self._postgres is None:
            self._postgres = PostgresServer(durable=True)  # scenarios crash it
        return self._postgres

    @property
    def s3(self) -> MotoServer:
        """The suite's S3 server (moto), started on first use."""
        if self._s3 is None:
            self._s3 = MotoServer()
        return self._s3

    def set_failpoints(self, rules: dict[str, dict[str, Any]]) -> None:
        """Arm failpoints in every process of the cluster and this one ({} disarms)."""
        failpoints.set_rules(self.failpoints_dir, rules)

    def fired(self, name: str) -> int:
        return failpoints.fired(self.failpoints_dir, name)

    def admin_db(self, backend: str) -> str:
        """A fresh, empty admin database URL: a SQLite file, or a database on the suite's
        PostgreSQL server."""
        if backend == "sqlite":
            directory = self.root / f"db-{uuid.uuid4().hex[:8]}"
            directory.mkdir()
            return f"sqlite:///{directory}/admin.db"
        name = f"admin_{uuid.uuid4().hex[:12]}"
        with admin_connect(self.postgres.url) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.postgres.url.rsplit("/", 1)[0] + f"/{name}"

    def blob_settings(self, backend: str, home: Path) -> dict[str, Any]:
        """Settings of a fresh blob store: a directory, or a new bucket on the S3 server."""
        if backend == "local":
            return {"blob_root": f"file://{home}/blobs"}
        import boto3

        bucket = f"chaos-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.s3.endpoint_url, region_name=S3_REGION,
                     aws_access_key_id="testing", aws_secret_access_key="testing",
                     ).create_bucket(Bucket=bucket)
        return {"blob_root": f"s3://{bucket}/flyray", "s3_endpoint_url": self.s3.endpoint_url,
                "s3_region": S3_REGION, **S3_KEYS}

    @contextlib.contextmanager
    def rig(self, db: str = "sqlite", blob: str = "local",
            **options: Any) -> Iterator[Rig]:
        """The admin API (in this process, executions on the chaos cluster) over a fresh
        admin database (``sqlite`` or ``postgresql``) and blob store (``local`` or
        ``s3``); ``options`` are Liveness timings or Settings fields to change."""
        home = self._home()
        with self._open(home, db, self.blob_settings(blob, home), options) as rig:
            yield rig

    @contextlib.contextmanager
    def rig_over(self, blob: dict[str, Any], db: str = "sqlite",
                 **options: Any) -> Iterator[Rig]:
        """:meth:`rig` over the blob store ``blob`` names (Settings fields: a root on a
        mounted filesystem, an S3 endpoint behind a proxy) instead of a fresh one."""
        with self._open(self._home(), db, blob, options) as rig:
            yield rig

    @contextlib.contextmanager
    def served_rig(self, db: str = "sqlite", replicas: int = 2,
                   **fields: Any) -> Iterator[Rig]:
        """A rig whose admin runs on Ray Serve on the chaos cluster, as deployed
        (``tests.chaos.rig.open_served_rig``), over a fresh admin database and local
        blob store."""
        home = self._home()
        self.set_failpoints({})
        try:
            with open_served_rig(home, self.admin_db(db), self.blob_settings("local", home),
                                 replicas=replicas, **fields) as rig:
                yield rig
        finally:
            self.set_failpoints({})

    def _home(self) -> Path:
        home = self.root / f"rig-{uuid.uuid4().hex[:8]}"
        home.mkdir()
        return home

    @contextlib.contextmanager
    def _open(self, home: Path, db: str, blob: dict[str, Any],
              options: dict[str, Any]) -> Iterator[Rig]:
        self.set_failpoints({})
        try:
            with open_rig(home, self.admin_db(db), blob, **options) as rig:
                yield rig
        finally:
            self.set_failpoints({})

    def close(self) -> None:
        self.set_failpoints({})
        self.cluster.stop()
        if self._s3 is not None:
            self._s3.stop()
        if self._postgres is not None:
            self._postgres.close()
        os.environ.pop(failpoints.TESTING_FLAG, None)
        os.environ.pop(failpoints.DIRECTORY, None)
        shutil.rmtree(self.root, ignore_errors=True)
