"""Shared fixtures: one local Ray cluster for the whole session, a private Flyray home,
blob stores (a local directory, and S3 served by moto's server on localhost), catalog
databases (SQLite files, and a PostgreSQL server started from its binaries)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

# Before Ray is imported anywhere: no token auth, no usage reporting, a private home.
# Runs in test processes (and the `flyray` commands they start) never leave a warm local
# runtime behind: without a cluster they start a private one, as FLYRAY_LOCAL_RUNTIME=0
# says; tests of the warm runtime turn it on for their own commands.
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
SESSION_HOME = tempfile.mkdtemp(prefix="flyray-home-")
os.environ["FLYRAY_HOME"] = SESSION_HOME
os.environ["FLYRAY_LOCAL_RUNTIME"] = "0"
os.environ.pop("RAY_ADDRESS", None)
os.environ.pop("FLYRAY_RAY_ADDRESS", None)

import ray  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from engine.catalog.blob import StorageConfig  # noqa: E402
from tests.servers import (  # noqa: E402
    MotoServer,
    PostgresServer,
    ServerUnavailable,
    admin_connect,
)

# Logical resources of the shared cluster: more CPUs than the machine has, so that
# tests of parallelism can run several sleeping nodes at once, and one logical GPU.
SHARED_CPUS = 4
SHARED_GPUS = 1


def _start_shared() -> None:
    # "local": a cluster of the session's own, even while other Ray clusters run on the
    # machine (without an address, Ray joins the one it recorded last in /tmp/ray).
    ray.init(
        address="local",
        num_cpus=SHARED_CPUS,
        num_gpus=SHARED_GPUS,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="WARNING",
    )


@pytest.fixture
def ray_cluster() -> Iterator[None]:
    """The session's shared local cluster; started on first use, reused after.

    It is (re)started lazily because tests marked ``fresh_cluster`` shut it down to
    run their own cluster; they run last (see ``pytest_collection_modifyitems``).
    """
    if not ray.is_initialized():
        _start_shared()
    yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests with their own cluster run after all others, so the shared one starts once."""
    items.sort(key=lambda item: item.get_closest_marker("fresh_cluster") is not None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if ray.is_initialized():
        ray.shutdown()
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


# --- Blob stores -------------------------------------------------------------------------

# moto accepts any credentials; they are passed explicitly so no AWS_* variable is needed.
S3_REGION = "us-east-1"
S3_ACCESS_KEY_ID = "testing"
S3_SECRET_ACCESS_KEY = "testing"


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server: a real HTTP endpoint on localhost."""

    endpoint_url: str

    def client(self) -> Any:
        """A boto3 S3 client for this server (buckets are made with it, not s3fs: s3fs's
        mkdir sends a location constraint that moto rejects)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY_ID,
            aws_secret_access_key=S3_SECRET_ACCESS_KEY,
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server in a thread of this process, for the whole session."""
    server = MotoServer()
    try:
        yield S3Server(endpoint_url=server.endpoint_url)
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[StorageConfig]:
    """A fresh, empty bucket on the moto server; the config's root is a prefix in it.

    The bucket and everything in it are deleted afterwards.
    """
    client = s3_server.client()
    bucket = f"flyray-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield StorageConfig(
            root=f"s3://{bucket}/flyray",
            s3_endpoint_url=s3_server.endpoint_url,
            s3_region=S3_REGION,
            s3_access_key_id=S3_ACCESS_KEY_ID,
            s3_secret_access_key=S3_SECRET_ACCESS_KEY,
        )
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def local_store_config(tmp_path: Path) -> StorageConfig:
    """A blob store in a directory of the test's own."""
    return StorageConfig(root=f"file://{tmp_path}/blobs")


# --- Catalog databases -------------------------------------------------------------------


def _missing(reason: str) -> NoReturn:
    """Skip for lack of a dependency; under CI (CI=true) a missing dependency fails instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing test dependency is an error)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server started from its binaries in a temp dir, for the whole session.

    Yields the SQLAlchemy URL of a database on it. Without the binaries the tests that
    need it skip with the reason (fail under CI).
    """
    try:
        server = PostgresServer()
    except ServerUnavailable as e:
        _missing(str(e))
    try:
        yield server.url
    finally:
        server.close()


def create_database(server_url: str) -> str:
    """A new, empty database on the server of ``server_url``; returns its URL."""
    name = f"catalog_{uuid.uuid4().hex[:12]}"
    with admin_connect(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url``, closing the connections Ray workers still hold to it."""
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty data catalog: a SQLite file of the test's own, or a fresh database on the
    session's PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    url = create_database(request.getfixturevalue("postgres_server"))
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def closed_endpoint() -> Iterator[str]:
    """An http endpoint on localhost that refuses connections: the port is bound (so no
    one else takes it during the test) but never listened on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
